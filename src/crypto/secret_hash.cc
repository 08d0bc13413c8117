#include "crypto/secret_hash.h"

#include <sodium.h>

namespace latchkey {
namespace {

constexpr unsigned char kPasswordRecordVersion = 1;
constexpr std::size_t kSaltSize = 16;
constexpr std::string_view kPasswordInfo = "latchkey device password v1";

std::string hmac_sha256(std::string_view key, std::string_view a, std::string_view b = {}, std::string_view c = {}) {
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  for (std::string_view part : {a, b, c})
    crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(part.data()), part.size());
  std::string out(crypto_auth_hmacsha256_BYTES, '\0');
  crypto_auth_hmacsha256_final(&state, reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

}  // namespace

bool constant_time_equal(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  if (a.empty()) return true;
  return sodium_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string keyed_hash(std::string_view key, std::string_view context, std::string_view secret) {
  static const char kSeparator = '\0';
  return hmac_sha256(key, context, std::string_view(&kSeparator, 1), secret);
}

std::string sha256(std::string_view bytes) {
  std::string out(crypto_hash_sha256_BYTES, '\0');
  crypto_hash_sha256(reinterpret_cast<unsigned char*>(out.data()), reinterpret_cast<const unsigned char*>(bytes.data()),
                     bytes.size());
  return out;
}

std::string hkdf_sha256(std::string_view input_key, std::string_view salt, std::string_view info) {
  std::string prk = hmac_sha256(salt, input_key);
  static const char kCounter = 1;
  std::string okm = hmac_sha256(prk, info, std::string_view(&kCounter, 1));
  sodium_memzero(prk.data(), prk.size());
  return okm;
}

std::string hash_password(Random& random, std::string_view password) {
  std::string salt = random_bytes(random, kSaltSize);
  std::string record(1, static_cast<char>(kPasswordRecordVersion));
  record += salt;
  record += hkdf_sha256(password, salt, kPasswordInfo);
  return record;
}

bool verify_password(std::string_view record, std::string_view password) {
  if (record.size() != 1 + kSaltSize + 32 || static_cast<unsigned char>(record[0]) != kPasswordRecordVersion)
    return false;
  std::string_view salt = record.substr(1, kSaltSize);
  std::string expected = hkdf_sha256(password, salt, kPasswordInfo);
  return constant_time_equal(expected, record.substr(1 + kSaltSize));
}

}  // namespace latchkey
