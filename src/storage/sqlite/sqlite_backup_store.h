// BackupStore on a SqliteDatabase: one row per account in backups, removed with the account by ON DELETE
// CASCADE.
#pragma once

#include "storage/backup_store.h"
#include "storage/sqlite/sqlite_database.h"

namespace latchkey {

// Thread-safe (every call goes through SqliteDatabase). Writes are group-committed and durable when they
// answer ok. attempt_restore runs as one write closure, so concurrent attempts on the same backup are
// serialised by the single writer. Errors besides those of BackupStore: kUnavailable once the database is
// closed or locked by another process, kInternal for any other SQLite failure (for example put() for an
// account that does not exist).
class SqliteBackupStore final : public BackupStore {
 public:
  // `database` is not owned and must outlive the store.
  explicit SqliteBackupStore(SqliteDatabase& database) : database_(database) {}

  Status put(const Backup& backup) override;
  Result<std::optional<Backup>> find(const std::string& account_uuid) override;
  Status expose(const std::string& account_uuid, const std::string& data) override;
  // `matches` is called on the writer thread, inside the write transaction: it must be quick and must not
  // use storage.
  Result<RestoreAttempt> attempt_restore(const std::string& account_uuid,
                                         const std::function<bool(const std::string&)>& matches) override;
  Status erase(const std::string& account_uuid) override;

 private:
  SqliteDatabase& database_;
};

}  // namespace latchkey
