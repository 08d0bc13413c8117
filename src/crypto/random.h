// Randomness, injected so tests can be deterministic. Production uses libsodium (SodiumRandom).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace latchkey {

// Thread-safe.
class Random {
 public:
  virtual ~Random() = default;
  virtual void fill(void* buffer, std::size_t size) = 0;
  // Uniform in [0, upper), without modulo bias. upper > 0.
  virtual std::uint32_t uniform(std::uint32_t upper) = 0;
};

// libsodium's CSPRNG (randombytes_buf, randombytes_uniform). sodium_init() must have succeeded.
class SodiumRandom final : public Random {
 public:
  void fill(void* buffer, std::size_t size) override;
  std::uint32_t uniform(std::uint32_t upper) override;
};

// Calls sodium_init() once; false if libsodium cannot initialise (the process must not continue).
bool initialize_crypto();

std::string random_bytes(Random& random, std::size_t size);

// An RFC 4122 version 4 UUID in lowercase text form.
std::string new_uuid(Random& random);

// A string of `digits` decimal digits, uniformly distributed (leading zeros allowed).
std::string random_digits(Random& random, int digits);

}  // namespace latchkey
