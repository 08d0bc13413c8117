// The append-only, hash-chained audit log of staff actions (docs/operations.md, "Audit log").
//
// Entry n carries leaf_n = SHA-256("latchkey-audit-leaf-v1" || canonical(entry n without hashes)) and
// hash_n = SHA-256("latchkey-audit-chain-v1" || hash_{n-1} || leaf_n), with hash_0 = 32 zero bytes. Sequence
// numbers start at 1 and have no gaps. A checkpoint (seq, head hash, time) is signed with an Ed25519 key kept in
// a file outside the database and appended to audit.checkpoint_file, so it can be copied elsewhere.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"

namespace latchkey {

class AuditStore;

struct AuditEntry {
  std::int64_t seq = 0;
  EpochMillis at = 0;
  std::string actor;        // "staff:<staff id>", "cli" (the server host's command line), "system" or "anonymous" (a failed sign-in with an unknown credential)
  std::string action;       // dotted verb, e.g. "staff.sign_in", "account.lookup", "account.unmask"
  std::string target;       // what was acted on (staff id, account uuid, incident id, provider name); may be empty
  nlohmann::json details;   // object; never codes, tokens, keys or full phone numbers unless unmasked on purpose
  std::string prev_hash;    // 32 raw bytes
  std::string hash;         // 32 raw bytes
};

// Thread-safe.
class AuditLog {
 public:
  virtual ~AuditLog() = default;

  // Appends one entry durably (chained to the current head inside the same storage transaction) and answers its
  // sequence number. A failed append is an error the caller must surface: a staff action that cannot be audited
  // must not happen.
  virtual Result<std::int64_t> record(const std::string& actor, const std::string& action, const std::string& target,
                                      nlohmann::json details) = 0;

  // Newest first: entries with seq < before (0: from the newest), at most `limit`.
  virtual Result<std::vector<AuditEntry>> list(std::int64_t before, int limit) = 0;
};

}  // namespace latchkey
