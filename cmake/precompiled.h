// Precompiled for every translation unit of the server library, the client library and the unit tests
// (CMakeLists.txt, LATCHKEY_PRECOMPILED_HEADERS). Only headers that most of them include anyway belong here:
// parsing the standard library, nlohmann/json and fmt is about a third of a typical file's compile time.
// Nothing here may depend on a macro that differs between those targets. Code must still include what it uses:
// a build with -DLATCHKEY_PRECOMPILED_HEADERS=OFF compiles each file without this header.
#pragma once

#include <utility>  // first: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <variant>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
