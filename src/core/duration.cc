#include "core/duration.h"

#include <cstdint>
#include <limits>

namespace latchkey {

std::optional<Duration> parse_duration(std::string_view text) {
  if (text.empty()) return std::nullopt;
  std::int64_t total = 0;
  std::size_t i = 0;
  while (i < text.size()) {
    std::int64_t value = 0;
    std::size_t digits = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') {
      if (value > (std::numeric_limits<std::int64_t>::max() - 9) / 10) return std::nullopt;
      value = value * 10 + (text[i] - '0');
      ++i;
      ++digits;
    }
    if (digits == 0) return std::nullopt;
    std::size_t unit_start = i;
    while (i < text.size() && ((text[i] >= 'a' && text[i] <= 'z'))) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    std::int64_t scale = 0;
    if (unit == "ms") scale = 1;
    else if (unit == "s") scale = 1000;
    else if (unit == "m") scale = 60'000;
    else if (unit == "h") scale = 3'600'000;
    else if (unit == "d") scale = 86'400'000;
    else return std::nullopt;
    if (value > std::numeric_limits<std::int64_t>::max() / scale) return std::nullopt;
    if (total > std::numeric_limits<std::int64_t>::max() - value * scale) return std::nullopt;
    total += value * scale;
  }
  return Duration(total);
}

std::string format_duration(Duration d) {
  std::int64_t ms = d.count();
  if (ms == 0) return "0s";
  struct Unit { std::int64_t scale; const char* name; };
  static constexpr Unit kUnits[] = {{86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
  for (const auto& u : kUnits) {
    if (ms % u.scale == 0) return std::to_string(ms / u.scale) + u.name;
  }
  return std::to_string(ms) + "ms";
}

}  // namespace latchkey
