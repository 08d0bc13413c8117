// The client side of Registration Lock and the PIN-protected backup (docs/api.md): the PIN is stretched with
// Argon2id into an encryption key and an access key; the backup holds the master key encrypted under the
// first, the server checks the second; the Registration Lock token is derived from the master key.
// Nothing here talks to the server; commands/ does.
#pragma once

#include <string>
#include <string_view>

#include "client/core/result.h"

namespace latchkey::client {

// Argon2id cost, as Signal's clients: 32 passes over 16 MiB, 64 bytes of output.
inline constexpr unsigned long long kPinArgonPasses = 32;
inline constexpr std::size_t kPinArgonMemory = 16 * 1024 * 1024;
inline constexpr std::size_t kMasterKeyBytes = 32;
inline constexpr std::size_t kBackupDataBytes = 48;  // 16-byte nonce + the encrypted 32-byte master key

struct StretchedPin {
  std::string encryption_key;  // first 32 bytes: encrypts the master key
  std::string access_key;      // last 32 bytes: sent to the server, which keeps a salted hash
};

// A PIN is 4 to 64 characters, without leading or trailing spaces (kUsage otherwise).
Status check_pin(std::string_view pin);

// The Argon2id salt: 16 bytes derived from the account uuid, so that a new installation that knows only the
// uuid (from the 423's backup credentials) and the PIN can derive the same access key. The uuid survives
// re-registration of the number, so the salt does too.
std::string pin_salt(std::string_view account_uuid);

// kCrypto when libsodium cannot allocate the memory.
Result<StretchedPin> stretch_pin(std::string_view pin, std::string_view salt);

// 48 bytes: a random 16-byte nonce, then master_key XOR HMAC-SHA256(encryption_key, "latchkey master key" ||
// nonce). The server already rejects a wrong access key, so no MAC is needed inside the 48-byte limit.
std::string encrypt_master_key(const StretchedPin& pin, std::string_view master_key);
// kCrypto when `data` is not 48 bytes.
Result<std::string> decrypt_master_key(const StretchedPin& pin, std::string_view data);

// 64 lowercase hex characters: HMAC-SHA256(master_key, "Registration Lock"), as in Signal.
std::string registration_lock_token(std::string_view master_key);

// The account uuid in backup credentials' username "backup-<uuid>"; empty when it has another form.
std::string uuid_from_backup_username(std::string_view username);

}  // namespace latchkey::client
