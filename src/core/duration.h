// Human durations in configuration files: "250ms", "5s", "10m", "24h", "7d", or combinations "1h30m".
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace latchkey {

using Duration = std::chrono::milliseconds;

// Parses a duration; nullopt when the text is empty, has an unknown unit, or overflows.
std::optional<Duration> parse_duration(std::string_view text);

// Formats a duration the way parse_duration reads it, with the largest exact unit ("90s" -> "90s", "24h").
std::string format_duration(Duration d);

}  // namespace latchkey
