#include "crypto/random.h"

#include <fmt/core.h>
#include <sodium.h>

namespace latchkey {

void SodiumRandom::fill(void* buffer, std::size_t size) { randombytes_buf(buffer, size); }
std::uint32_t SodiumRandom::uniform(std::uint32_t upper) { return randombytes_uniform(upper); }

bool initialize_crypto() { return sodium_init() >= 0; }

std::string random_bytes(Random& random, std::size_t size) {
  std::string out(size, '\0');
  random.fill(out.data(), size);
  return out;
}

std::string new_uuid(Random& random) {
  unsigned char b[16];
  random.fill(b, sizeof b);
  b[6] = (b[6] & 0x0f) | 0x40;  // version 4
  b[8] = (b[8] & 0x3f) | 0x80;  // RFC 4122 variant
  return fmt::format("{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
                     b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
                     b[15]);
}

std::string random_digits(Random& random, int digits) {
  std::string out;
  out.reserve(digits);
  for (int i = 0; i < digits; ++i) out.push_back(static_cast<char>('0' + random.uniform(10)));
  return out;
}

}  // namespace latchkey
