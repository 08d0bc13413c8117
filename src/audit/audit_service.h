// The audit log service: appends hash-chained entries through AuditStore, signs checkpoints of the chain's head
// into a file that can be copied off the host, and verifies a log against its checkpoints
// (docs/operations.md, "Audit log"; the formats are in audit/audit_chain.h).
#pragma once

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "audit/audit_chain.h"
#include "audit/audit_log.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "storage/audit_store.h"

namespace latchkey {

// Thread-safe: record(), list() and write_checkpoint() may be called from any threads at once (checkpoints are
// serialised by an internal lock). The store and clock must outlive the service.
class AuditService final : public AuditLog {
 public:
  AuditService(AuditStore& store, const Clock& clock, AuditSigningKey key, std::string checkpoint_file);

  // Details that are null become {}; any other non-object is wrapped as {"value": details}. Strings that are
  // not valid UTF-8 have their bad bytes replaced by U+FFFD, so every entry has a canonical form.
  // Errors: the store's (kUnavailable, kInternal); the failure is logged (action only, never details).
  Result<std::int64_t> record(const std::string& actor, const std::string& action, const std::string& target,
                              nlohmann::json details) override;

  Result<std::vector<AuditEntry>> list(std::int64_t before, int limit) override;

  // Signs the current head (seq, hash, now) and appends the line to the checkpoint file, fsynced, creating the
  // file and its folder if needed. Before signing, the entries since the last checkpoint in the file are
  // re-hashed from that checkpoint's head, so a tampered log is never signed. Answers false (nothing written)
  // when the head is the one last checkpointed, or when the log is empty and no checkpoint exists.
  // Errors: kInternal when the file cannot be read or written, or when the log does not match the last
  // checkpoint or does not chain (the message names the first bad entry; nothing is signed); storage errors.
  Result<bool> write_checkpoint();

  const std::string& public_key() const { return key_.public_key; }

 private:
  Status load_last_checkpoint();  // requires checkpoint_mutex_

  AuditStore& store_;
  const Clock& clock_;
  const AuditSigningKey key_;
  const std::string checkpoint_file_;

  std::mutex checkpoint_mutex_;
  bool checkpoint_file_loaded_ = false;                // guarded by checkpoint_mutex_
  bool checkpoint_file_needs_newline_ = false;         // a torn last line; guarded by checkpoint_mutex_
  std::optional<AuditCheckpoint> last_checkpoint_;     // guarded by checkpoint_mutex_
};

// Reads the Ed25519 seed (64 hex characters and an optional newline) from `path`.
// Errors: kNotFound when the file does not exist; kInternal when it is not a regular file, has any permission
// for group or others (it must be 0600 or 0400: the message says so), or does not hold a 32-byte hex seed.
Result<AuditSigningKey> load_audit_signing_key(const std::string& path);

// As load_audit_signing_key(config.signing_key_file), creating the file first (mode 0600, a fresh random seed,
// fsynced, folders created) when it does not exist. Errors: as above, or kInternal when it cannot be created.
Result<AuditSigningKey> load_or_create_audit_signing_key(const AuditConfig& config);

// The outcome of verify_audit_log.
struct AuditVerifyReport {
  bool ok = true;
  std::int64_t entries_checked = 0;      // entries re-hashed and found intact
  std::int64_t checkpoints_checked = 0;  // checkpoints whose signature and head were found valid
  std::int64_t last_seq = 0;             // the newest intact entry checked
  std::int64_t first_bad_seq = 0;        // when !ok: the first entry found bad; 0 when the checkpoint file is bad
  std::string reason;                    // when !ok: one sentence
};

// Re-hashes the whole log from entry 1 and checks every checkpoint line of `checkpoint_file` (missing file: no
// checkpoints) against `public_key` (32 bytes), in sequence order, stopping at the first failure: a gap in the
// sequence (deleted rows), a prev_hash that is not the previous entry's hash (reordered or replaced rows), an
// entry that does not match its hash or whose details are not in canonical form (edited), a checkpoint whose
// signature is invalid (forged), whose head differs from the recomputed chain (rewritten entries), or that
// covers entries beyond the end of the log (truncated tail). A malformed checkpoint line fails with
// first_bad_seq 0. Errors (not a verdict): kInternal when the checkpoint file cannot be read; storage errors.
Result<AuditVerifyReport> verify_audit_log(AuditStore& store, const std::string& checkpoint_file,
                                           std::string_view public_key);

}  // namespace latchkey
