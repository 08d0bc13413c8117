#include "client/pin/pin_backup.h"

#include <sodium.h>

#include "core/encoding.h"

namespace latchkey::client {
namespace {

std::string hmac_sha256(std::string_view key, std::string_view message) {
  unsigned char out[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state state;
  crypto_auth_hmacsha256_init(&state, reinterpret_cast<const unsigned char*>(key.data()), key.size());
  crypto_auth_hmacsha256_update(&state, reinterpret_cast<const unsigned char*>(message.data()), message.size());
  crypto_auth_hmacsha256_final(&state, out);
  sodium_memzero(&state, sizeof(state));
  return std::string(reinterpret_cast<char*>(out), sizeof(out));
}

std::string keystream(const StretchedPin& pin, std::string_view nonce) {
  return hmac_sha256(pin.encryption_key, std::string("latchkey master key") + std::string(nonce));
}

}  // namespace

Status check_pin(std::string_view pin) {
  if (pin.size() < 4 || pin.size() > 64) return make_error(ErrorKind::kUsage, "a PIN has 4 to 64 characters");
  if (pin.front() == ' ' || pin.back() == ' ') {
    return make_error(ErrorKind::kUsage, "a PIN cannot start or end with a space");
  }
  return ok_status();
}

std::string pin_salt(std::string_view account_uuid) {
  unsigned char salt[crypto_pwhash_SALTBYTES];
  static const char kContext[] = "latchkey pin salt v1";
  crypto_generichash(salt, sizeof(salt), reinterpret_cast<const unsigned char*>(account_uuid.data()),
                     account_uuid.size(), reinterpret_cast<const unsigned char*>(kContext), sizeof(kContext) - 1);
  return std::string(reinterpret_cast<char*>(salt), sizeof(salt));
}

Result<StretchedPin> stretch_pin(std::string_view pin, std::string_view salt) {
  if (salt.size() != crypto_pwhash_SALTBYTES) return make_error(ErrorKind::kCrypto, "bad PIN salt size");
  unsigned char out[64];
  if (crypto_pwhash(out, sizeof(out), pin.data(), pin.size(), reinterpret_cast<const unsigned char*>(salt.data()),
                    kPinArgonPasses, kPinArgonMemory, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return make_error(ErrorKind::kCrypto, "stretching the PIN failed (out of memory)");
  }
  StretchedPin stretched;
  stretched.encryption_key.assign(reinterpret_cast<char*>(out), 32);
  stretched.access_key.assign(reinterpret_cast<char*>(out) + 32, 32);
  sodium_memzero(out, sizeof(out));
  return stretched;
}

std::string encrypt_master_key(const StretchedPin& pin, std::string_view master_key) {
  std::string nonce(16, '\0');
  randombytes_buf(nonce.data(), nonce.size());
  std::string stream = keystream(pin, nonce);
  std::string out = nonce;
  for (std::size_t i = 0; i < kMasterKeyBytes && i < master_key.size(); ++i) {
    out.push_back(static_cast<char>(master_key[i] ^ stream[i]));
  }
  sodium_memzero(stream.data(), stream.size());
  return out;
}

Result<std::string> decrypt_master_key(const StretchedPin& pin, std::string_view data) {
  if (data.size() != kBackupDataBytes) return make_error(ErrorKind::kCrypto, "the backup has an unexpected size");
  std::string stream = keystream(pin, data.substr(0, 16));
  std::string master(kMasterKeyBytes, '\0');
  for (std::size_t i = 0; i < kMasterKeyBytes; ++i) master[i] = static_cast<char>(data[16 + i] ^ stream[i]);
  sodium_memzero(stream.data(), stream.size());
  return master;
}

std::string registration_lock_token(std::string_view master_key) {
  return hex_encode(hmac_sha256(master_key, "Registration Lock"));
}

std::string uuid_from_backup_username(std::string_view username) {
  constexpr std::string_view kPrefix = "backup-";
  if (!username.starts_with(kPrefix)) return "";
  return std::string(username.substr(kPrefix.size()));
}

}  // namespace latchkey::client
