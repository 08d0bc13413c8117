// Opens the configured storage backend and hands out its stores. The composition root owns the Storage; the
// stores it returns live as long as it does.
#pragma once

#include <memory>

#include "core/config.h"
#include "core/error.h"
#include "metrics/metrics.h"
#include "storage/account_store.h"
#include "storage/alert_queries.h"
#include "storage/audit_store.h"
#include "storage/backup_store.h"
#include "storage/encrypted_storage_store.h"
#include "storage/incident_store.h"
#include "storage/key_store.h"
#include "storage/message_store.h"
#include "storage/notice_store.h"
#include "storage/staff_store.h"
#include "storage/takeover_store.h"
#include "storage/verification_session_store.h"

namespace latchkey {

// Thread-safe: the stores may be used from any number of threads at once.
class Storage {
 public:
  virtual ~Storage() = default;
  virtual VerificationSessionStore& sessions() = 0;
  virtual AccountStore& accounts() = 0;
  virtual BackupStore& backups() = 0;
  virtual NoticeStore& notices() = 0;
  virtual EncryptedStorageStore& encrypted_storage() = 0;
  virtual TakeoverStore& takeovers() = 0;
  virtual KeyStore& keys() = 0;
  virtual MessageStore& messages() = 0;
  virtual StaffStore& staff() = 0;
  virtual AuditStore& audit() = 0;
  virtual AlertQueries& alert_queries() = 0;
  virtual IncidentStore& incidents() = 0;

  // Ok when the backend answers a trivial query.
  virtual Status check_health() = 0;

  // Completes every write already submitted, then closes. Idempotent; later calls to stores fail with
  // kUnavailable.
  virtual void close() = 0;
};

// Opens (creating and migrating as needed) the backend named by config.backend. With `metrics`, the backend
// reports its own metrics there (latchkey_storage_*, docs/operations.md).
// Errors: kInternal with a message naming the file or server that could not be opened or migrated.
Result<std::unique_ptr<Storage>> open_storage(const StorageConfig& config,
                                              MetricsRegistry* metrics = nullptr);

}  // namespace latchkey
