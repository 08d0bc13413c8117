// Fuzzes the TOML configuration loader: any input must give a Config or a list of problems, never a crash.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/config.h"
#include "core/duration.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto config = latchkey::load_config_text(text, "fuzz");
  if (config.ok()) {
    latchkey::validate_config(*config);
  }
  if (auto d = latchkey::parse_duration(text)) {
    if (latchkey::parse_duration(latchkey::format_duration(*d)) != d) __builtin_trap();
  }
  return 0;
}
