// The process's limit on open files (RLIMIT_NOFILE), which bounds how many sockets the server can hold. The
// usual soft limit is 1,024 while server.max_connections defaults to 10,000, so the server raises it when it
// starts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/error.h"

namespace latchkey {

struct OpenFileLimit {
  std::uint64_t before = 0;  // the soft limit the process started with
  std::uint64_t soft = 0;    // the soft limit in effect now
  std::uint64_t hard = 0;    // the ceiling; only a privileged process may raise it
};

// Descriptors the server holds besides its client connections: database files, listeners, event loops,
// timers, log files, provider connections. With server.max_connections, what the server needs.
inline constexpr std::uint64_t kDescriptorsBesidesConnections = 256;

// Raises the soft limit to the hard limit (to fs.nr_open when the hard limit is unlimited); never lowers it.
// Answers the limits before and after.
Result<OpenFileLimit> raise_open_file_limit();

// What to tell the operator when `limit` descriptors cannot hold `max_connections` client connections beside
// the server's own files; nullopt when they can.
std::optional<std::string> open_file_limit_shortfall(std::uint64_t limit, std::uint64_t max_connections);

}  // namespace latchkey
