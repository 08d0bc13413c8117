// Table access for the hash-chained audit log (audit/audit_log.h defines the entry and the hashes). The store
// keeps rows in sequence order and appends atomically; computing and checking hashes is audit/'s job.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "audit/audit_log.h"
#include "core/clock.h"
#include "core/error.h"

namespace latchkey {

// The newest entry: seq 0 and 32 zero bytes when the log is empty (the chain's hash_0).
struct AuditHead {
  std::int64_t seq = 0;
  std::string hash;  // 32 raw bytes as stored in the newest row
};

// One row exactly as stored, for verification: nothing is parsed, so any edit is visible.
struct AuditRow {
  std::int64_t seq = 0;
  EpochMillis at = 0;
  std::string actor;
  std::string action;
  std::string target;
  std::string details;    // the JSON text as stored
  std::string prev_hash;  // as stored (32 bytes unless tampered with)
  std::string hash;       // as stored
};

// Thread-safe; every call may block on storage I/O.
class AuditStore {
 public:
  // Called inside the append's write transaction with the current head; answers the complete next entry
  // (seq = head.seq + 1, prev_hash = head.hash, hash computed). Runs on the storage writer: it must be quick
  // and must not call the store. An error it answers aborts the append with that error.
  using EntryBuilder = std::function<Result<AuditEntry>(const AuditHead& head)>;

  virtual ~AuditStore() = default;

  // Reads the head and inserts the entry `build` makes in one write transaction, so concurrent appends chain
  // one after another without gaps. Durable when it answers; answers the entry as stored. The details column
  // holds entry.details.dump() (compact, keys sorted).
  // Errors: the builder's own; kInternal when the builder answers a seq or prev_hash that does not follow the
  // head, or details that cannot be serialised; storage errors (kUnavailable, kInternal).
  virtual Result<AuditEntry> append(const EntryBuilder& build) = 0;

  // Newest first: entries with seq < before (before <= 0: from the newest), at most `limit`. A details column
  // that is not valid JSON is answered as a JSON string holding the stored text.
  virtual Result<std::vector<AuditEntry>> list(std::int64_t before, int limit) = 0;

  // Rows with seq >= from_seq in ascending seq order, at most `limit`, exactly as stored.
  virtual Result<std::vector<AuditRow>> read_range(std::int64_t from_seq, int limit) = 0;

  // The newest row's seq and hash, or {0, 32 zero bytes} for an empty log.
  virtual Result<AuditHead> head() = 0;
};

}  // namespace latchkey
