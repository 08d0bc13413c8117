// The audit log's hashes and signed checkpoints as pure functions (no I/O). docs/operations.md, "Audit log",
// describes the same formats for people who verify a copy with their own tools.
//
// Canonical form of an entry (the bytes its leaf hash covers): the compact JSON text of the object
//   {"action": action, "actor": actor, "at": at, "details": details, "seq": seq, "target": target}
// with keys sorted by their UTF-8 bytes at every level, no whitespace, strings as UTF-8 (not \u-escaped) except
// '"', '\\' and the control characters U+0000..U+001F (\b \f \n \r \t, others as \u00xx in lowercase hex),
// integers in decimal. This is nlohmann::json::dump() of that object, and Python's
// json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False) for details made of objects,
// arrays, strings, integers, booleans and null (floats are not used in audit details).
//
//   leaf_n = SHA-256("latchkey-audit-leaf-v1"  || canonical(entry n))
//   hash_n = SHA-256("latchkey-audit-chain-v1" || hash_{n-1} || leaf_n),  hash_0 = 32 zero bytes
//
// The details column stores canonical_details(details), i.e. details.dump(); a stored details text that is not
// in that exact form counts as an edit.
//
// A checkpoint signs (seq, head, at) with Ed25519 over the 76-byte message
//   "latchkey-audit-checkpoint-v1" (28 ASCII bytes) || seq (8 bytes, big-endian) || head (32 bytes)
//   || at (8 bytes, big-endian two's complement, milliseconds since the Unix epoch)
// and is one line of the checkpoint file (keys in this order, then "\n"):
//   {"seq":12,"head":"<64 hex>","at":1700000000000,"signature":"<128 hex>","key_id":"<16 hex>"}
// Hex is lowercase. key_id is the first 8 bytes of SHA-256(public key): it names the key, it is not signed.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "audit/audit_log.h"
#include "core/error.h"

namespace latchkey {

constexpr std::size_t kAuditHashSize = 32;

// 32 zero bytes: the prev_hash of entry 1 and the head of an empty log.
std::string audit_genesis_hash();

// The canonical text of a details value: details.dump() (compact, sorted keys). Throws
// nlohmann::json::type_error for strings that are not valid UTF-8 (AuditService replaces those first).
std::string canonical_details(const nlohmann::json& details);

// The canonical form of an entry (above); prev_hash and hash are not part of it.
std::string audit_canonical_form(std::int64_t seq, EpochMillis at, const std::string& actor, const std::string& action,
                                 const std::string& target, const nlohmann::json& details);

// leaf_n and hash_n as defined above (32 raw bytes each).
std::string audit_leaf_hash(std::string_view canonical_form);
std::string audit_chain_hash(std::string_view prev_hash, std::string_view leaf_hash);

// Fills entry.prev_hash and entry.hash from `prev_hash` and the entry's other fields.
void seal_audit_entry(AuditEntry& entry, std::string_view prev_hash);

// An Ed25519 key pair for checkpoints. The secret key is wiped when the object is destroyed; never log it.
struct AuditSigningKey {
  AuditSigningKey() = default;
  AuditSigningKey(const AuditSigningKey&) = default;
  AuditSigningKey& operator=(const AuditSigningKey&) = default;
  ~AuditSigningKey();

  std::string secret_key;  // 64 bytes (libsodium's seed || public key form)
  std::string public_key;  // 32 bytes
};

// The key pair derived from a 32-byte seed. Errors: kInternal when the seed is not 32 bytes.
Result<AuditSigningKey> audit_signing_key_from_seed(std::string_view seed);

// 16 lowercase hex characters naming `public_key`.
std::string audit_key_id(std::string_view public_key);

struct AuditCheckpoint {
  std::int64_t seq = 0;
  std::string head;       // 32 raw bytes
  EpochMillis at = 0;
  std::string signature;  // 64 raw bytes
  std::string key_id;     // 16 hex characters
};

// The 76-byte message a checkpoint signs.
std::string audit_checkpoint_message(std::int64_t seq, std::string_view head, EpochMillis at);

// A checkpoint of (seq, head, at) signed by `key`.
AuditCheckpoint sign_audit_checkpoint(const AuditSigningKey& key, std::int64_t seq, std::string_view head,
                                      EpochMillis at);

// True when the checkpoint's signature is valid for `public_key` (32 bytes).
bool verify_audit_checkpoint(const AuditCheckpoint& checkpoint, std::string_view public_key);

// The checkpoint file line, without the trailing newline.
std::string format_audit_checkpoint(const AuditCheckpoint& checkpoint);

// Parses one checkpoint line. nullopt when it is not the format above (bad JSON, missing key, wrong type,
// wrong hex length); a line with a bad signature parses fine.
std::optional<AuditCheckpoint> parse_audit_checkpoint(std::string_view line);

}  // namespace latchkey
