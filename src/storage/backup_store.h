// Durable PIN-protected backups (one per account). The server never sees the PIN: it stores a record of the
// client's access key (derived from the PIN), 16..48 bytes of encrypted data (the client's master key,
// encrypted under the PIN), and a tries counter. The rules live in lock/backup_service.h.
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "core/clock.h"
#include "core/error.h"

namespace latchkey {

struct Backup {
  std::string account_uuid;
  std::string access_key_record;  // crypto/secret_hash.h record of the access key; never the key itself
  std::string data;               // opaque encrypted bytes
  int max_tries = 10;
  int tries_remaining = 10;
  bool exposed = false;           // false: stored but not yet restorable (PUT done, expose not yet)
  EpochMillis updated_at = 0;
};

// The outcome of one restore attempt, decided atomically with the counter update.
struct RestoreAttempt {
  enum class Outcome {
    kRestored,   // the key matched: tries reset to max_tries, `data` holds the backup
    kMismatch,   // the key did not match: one try used, tries_remaining left (> 0)
    kErased,     // the key did not match and that was the last try: the backup is gone for good
    kNotFound,   // no exposed backup for the account
  } outcome = Outcome::kNotFound;
  std::string data;
  int tries_remaining = 0;
};

// Thread-safe. Every call may block on storage I/O (call from a worker thread).
// Errors other than those listed are kInternal or kUnavailable.
class BackupStore {
 public:
  virtual ~BackupStore() = default;

  // Stores `backup` as the account's only backup (replacing any, exposed or not). Durable when ok.
  virtual Status put(const Backup& backup) = 0;

  virtual Result<std::optional<Backup>> find(const std::string& account_uuid) = 0;

  // Makes the pending backup restorable if its data equals `data`. kNotFound: no backup.
  // kConflict: the stored data differs (the client exposed something else than it stored).
  virtual Status expose(const std::string& account_uuid, const std::string& data) = 0;

  // In one transaction: loads the exposed backup, asks `matches(access_key_record)`, and then resets the
  // counter (match), decrements it (mismatch) or deletes the backup (mismatch on the last try). Concurrent
  // attempts are serialised, so wrong guesses can never exceed max_tries in total.
  virtual Result<RestoreAttempt> attempt_restore(const std::string& account_uuid,
                                                 const std::function<bool(const std::string&)>& matches) = 0;

  // Deletes the account's backup; ok if there was none.
  virtual Status erase(const std::string& account_uuid) = 0;
};

}  // namespace latchkey
