// Fuzzes phone-number parsing (libphonenumber behind parse_phone_number): a parsed number must re-parse to
// itself.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/phone_number.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto number = latchkey::parse_phone_number(text);
  if (number.ok()) {
    auto again = latchkey::parse_phone_number(number->e164);
    if (!again.ok() || again->e164 != number->e164) __builtin_trap();
  }
  return 0;
}
