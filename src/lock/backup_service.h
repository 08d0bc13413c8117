// PIN-protected backup of the client's master key. The client stretches its PIN (Argon2id) into an
// encryption key and an access key; the server keeps the access key's record, the encrypted master key and a
// tries counter. A restore with the wrong access key uses a try; when none are left the backup is erased for
// good. Storing is two steps (put, then expose with the same data) so a lost reply never grants extra tries.
#pragma once

#include <string>

#include "core/error.h"
#include "crypto/random.h"
#include "metrics/metrics.h"
#include "storage/backup_store.h"

namespace latchkey {

struct RestoredBackup {
  std::string data;
  int tries_remaining = 0;
};

// Thread-safe; calls block on storage (worker threads only).
class BackupService {
 public:
  static constexpr std::size_t kAccessKeyBytes = 32;
  static constexpr std::size_t kMinDataBytes = 16;
  static constexpr std::size_t kMaxDataBytes = 48;
  static constexpr int kDefaultMaxTries = 10;

  BackupService(BackupStore& store, Random& random, const Clock& clock, MetricsRegistry& metrics);

  // Stores a pending backup, replacing any. kMalformedRequest: access key not 32 bytes, data not 16..48 bytes,
  // max_tries not 1..255.
  Status put(const std::string& account_uuid, const std::string& access_key, const std::string& data, int max_tries);

  // Makes the pending backup restorable. kNotFound: none stored; kConflict: `data` differs from what was put.
  Status expose(const std::string& account_uuid, const std::string& data);

  // The backup's data when the access key matches (and the tries are reset). kPinMismatch with details
  // {"triesRemaining"} on a wrong key; kNotFound when there is no restorable backup, including right after
  // the last wrong try erased it.
  Result<RestoredBackup> restore(const std::string& account_uuid, const std::string& access_key);

 private:
  BackupStore& store_;
  Random& random_;
  const Clock& clock_;
  Counter& restored_;
  Counter& mismatched_;
  Counter& erased_;
};

}  // namespace latchkey
