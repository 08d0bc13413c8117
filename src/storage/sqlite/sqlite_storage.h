// The SQLite backend of Storage: one database file with its session, account, backup, notice and
// encrypted storage stores.
#pragma once

#include <memory>

#include "core/config.h"
#include "storage/sqlite/sqlite_account_store.h"
#include "storage/sqlite/sqlite_audit_store.h"
#include "storage/sqlite/sqlite_alert_queries.h"
#include "storage/sqlite/sqlite_backup_store.h"
#include "storage/sqlite/sqlite_database.h"
#include "storage/sqlite/sqlite_encrypted_storage_store.h"
#include "storage/sqlite/sqlite_incident_store.h"
#include "storage/sqlite/sqlite_key_store.h"
#include "storage/sqlite/sqlite_message_store.h"
#include "storage/sqlite/sqlite_notice_store.h"
#include "storage/sqlite/sqlite_staff_store.h"
#include "storage/sqlite/sqlite_takeover_store.h"
#include "storage/sqlite/sqlite_session_store.h"
#include "storage/storage.h"

namespace latchkey {

// Thread-safe, as Storage. Owns the database; the stores live as long as this object.
class SqliteStorage final : public Storage {
 public:
  // Opens (creating and migrating) config.sqlite_path; see SqliteDatabase::open for the errors.
  static Result<std::unique_ptr<SqliteStorage>> open(const StorageConfig& config,
                                                     MetricsRegistry* metrics = nullptr);

  ~SqliteStorage() override;  // close()

  VerificationSessionStore& sessions() override { return sessions_; }
  AccountStore& accounts() override { return accounts_; }
  BackupStore& backups() override { return backups_; }
  NoticeStore& notices() override { return notices_; }
  EncryptedStorageStore& encrypted_storage() override { return encrypted_storage_; }
  TakeoverStore& takeovers() override { return takeovers_; }
  KeyStore& keys() override { return keys_; }
  MessageStore& messages() override { return messages_; }
  StaffStore& staff() override { return staff_; }
  AuditStore& audit() override { return audit_; }
  AlertQueries& alert_queries() override { return alert_queries_; }
  IncidentStore& incidents() override { return incidents_; }

  // Runs "SELECT 1" on a read connection. kUnavailable after close().
  Status check_health() override;

  void close() override;

  // The underlying database, for SQLite-specific tests and metrics.
  SqliteDatabase& database() { return *database_; }

 private:
  explicit SqliteStorage(std::unique_ptr<SqliteDatabase> database);

  std::unique_ptr<SqliteDatabase> database_;
  SqliteSessionStore sessions_;
  SqliteAccountStore accounts_;
  SqliteBackupStore backups_;
  SqliteNoticeStore notices_;
  SqliteEncryptedStorageStore encrypted_storage_;
  SqliteTakeoverStore takeovers_;
  SqliteKeyStore keys_;
  SqliteMessageStore messages_;
  SqliteStaffStore staff_;
  SqliteAuditStore audit_;
  SqliteAlertQueries alert_queries_;
  SqliteIncidentStore incidents_;
};

}  // namespace latchkey
