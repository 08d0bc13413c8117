#include "storage/sqlite/sqlite_storage.h"

#include <utility>

namespace latchkey {

Result<std::unique_ptr<SqliteStorage>> SqliteStorage::open(const StorageConfig& config,
                                                           MetricsRegistry* metrics) {
  auto database = SqliteDatabase::open(config, metrics);
  if (!database.ok()) return database.take_error();
  return std::unique_ptr<SqliteStorage>(new SqliteStorage(std::move(database).value()));
}

SqliteStorage::SqliteStorage(std::unique_ptr<SqliteDatabase> database)
    : database_(std::move(database)), sessions_(*database_),
      accounts_(*database_),
      backups_(*database_),
      notices_(*database_),
      encrypted_storage_(*database_),
      takeovers_(*database_),
      keys_(*database_),
      messages_(*database_),
      staff_(*database_),
      audit_(*database_),
      alert_queries_(*database_),
      incidents_(*database_) {}

SqliteStorage::~SqliteStorage() { close(); }

Status SqliteStorage::check_health() {
  return database_->read([](SqliteConnection& connection) -> Status {
    auto statement = connection.prepare("SELECT 1");
    if (!statement.ok()) return statement.take_error();
    Result<bool> row = statement->step("checking the database");
    if (!row.ok()) return row.take_error();
    if (!*row) return make_error(ErrorCode::kInternal, "checking the database: no row");
    return {};
  });
}

void SqliteStorage::close() { database_->close(); }

}  // namespace latchkey
