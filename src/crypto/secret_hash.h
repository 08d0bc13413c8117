// Hashes of secrets that the server must check but never store: verification codes and device passwords.
#pragma once

#include <string>
#include <string_view>

#include "crypto/random.h"

namespace latchkey {

// True when a and b are byte-for-byte equal; time depends only on the lengths.
bool constant_time_equal(std::string_view a, std::string_view b);

// HMAC-SHA256(key, context || 0x00 || secret): a keyed hash of a short secret (a 6-digit code), bound to its
// context (the session id) so a hash cannot be replayed into another session. `key` is 32 bytes.
std::string keyed_hash(std::string_view key, std::string_view context, std::string_view secret);

// SHA-256 of `bytes` (32 raw bytes). For high-entropy tokens (staff invites and sessions) stored by hash.
std::string sha256(std::string_view bytes);

// HKDF-SHA256 (RFC 5869) with one output block: 32 bytes.
std::string hkdf_sha256(std::string_view input_key, std::string_view salt, std::string_view info);

// A password record: version byte, 16-byte random salt, HKDF-SHA256(password, salt). Device passwords are
// client-generated random strings of at least 16 characters, so a fast KDF is enough (as Signal does).
std::string hash_password(Random& random, std::string_view password);

// Checks a password against a record made by hash_password, in constant time. False for malformed records.
bool verify_password(std::string_view record, std::string_view password);

}  // namespace latchkey
