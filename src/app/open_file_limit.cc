#include "app/open_file_limit.h"

#include <fmt/format.h>
#include <sys/resource.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace latchkey {
namespace {

// The most descriptors a process may have, whatever its limit says (the kernel's default is 1,048,576).
std::uint64_t nr_open() {
  std::ifstream file("/proc/sys/fs/nr_open");
  std::uint64_t n = 0;
  if (file >> n && n > 0) return n;
  return 1'048'576;
}

}  // namespace

Result<OpenFileLimit> raise_open_file_limit() {
  rlimit current{};
  if (::getrlimit(RLIMIT_NOFILE, &current) != 0)
    return make_error(ErrorCode::kInternal, std::string("getrlimit(RLIMIT_NOFILE): ") + std::strerror(errno));
  OpenFileLimit limit;
  limit.before = current.rlim_cur;
  limit.hard = current.rlim_max;
  const rlim_t target = current.rlim_max == RLIM_INFINITY ? static_cast<rlim_t>(nr_open()) : current.rlim_max;
  if (current.rlim_cur != RLIM_INFINITY && current.rlim_cur < target) {
    rlimit raised{target, current.rlim_max};
    if (::setrlimit(RLIMIT_NOFILE, &raised) != 0)
      return make_error(ErrorCode::kInternal,
                        std::string("setrlimit(RLIMIT_NOFILE): ") + std::strerror(errno));
    current.rlim_cur = target;
  }
  limit.soft = current.rlim_cur;
  return limit;
}

std::optional<std::string> open_file_limit_shortfall(std::uint64_t limit, std::uint64_t max_connections) {
  const std::uint64_t needed = max_connections + kDescriptorsBesidesConnections;
  if (limit >= needed) return std::nullopt;
  const std::uint64_t fit =
      limit > kDescriptorsBesidesConnections ? limit - kDescriptorsBesidesConnections : 0;
  return fmt::format(
      "the open-file limit ({}) is below server.max_connections ({}) plus {} for the server's own files: "
      "past about {} connections, accepting fails (accept_failed in the log) and the server pauses. "
      "Raise the hard limit to at least {} (LimitNOFILE= in a systemd unit, ulimit -Hn in a shell) "
      "or lower server.max_connections",
      limit, max_connections, kDescriptorsBesidesConnections, fit, needed);
}

}  // namespace latchkey
