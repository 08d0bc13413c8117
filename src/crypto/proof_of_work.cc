#include "crypto/proof_of_work.h"

#include <sodium.h>

namespace latchkey {

int proof_of_work_zero_bits(std::string_view challenge, std::string_view nonce) {
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(challenge.data()), challenge.size());
  crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(nonce.data()), nonce.size());
  unsigned char digest[crypto_hash_sha256_BYTES];
  crypto_hash_sha256_final(&state, digest);
  int bits = 0;
  for (unsigned char byte : digest) {
    if (byte == 0) {
      bits += 8;
      continue;
    }
    for (int i = 7; i >= 0 && !(byte & (1 << i)); --i) ++bits;
    break;
  }
  return bits;
}

bool is_decimal_nonce(std::string_view nonce) {
  if (nonce.empty() || nonce.size() > 20) return false;
  for (char ch : nonce)
    if (ch < '0' || ch > '9') return false;
  return true;
}

bool proof_of_work_valid(std::string_view challenge, std::string_view nonce, int bits) {
  return is_decimal_nonce(nonce) && proof_of_work_zero_bits(challenge, nonce) >= bits;
}

std::optional<std::string> solve_proof_of_work(std::string_view challenge, int bits, std::uint64_t max_attempts) {
  for (std::uint64_t n = 0; n < max_attempts; ++n) {
    std::string nonce = std::to_string(n);
    if (proof_of_work_zero_bits(challenge, nonce) >= bits) return nonce;
  }
  return std::nullopt;
}

}  // namespace latchkey
