// TakeoverStore on SQLite (table takeover_attempts, migration 4). Thread-safe.
#pragma once

#include "storage/sqlite/sqlite_database.h"
#include "storage/takeover_store.h"

namespace latchkey {

class SqliteTakeoverStore final : public TakeoverStore {
 public:
  explicit SqliteTakeoverStore(SqliteDatabase& database) : database_(database) {}
  Status create(const TakeoverAttempt& attempt) override;
  Result<std::optional<TakeoverAttempt>> find(const std::string& id) override;
  Result<std::optional<TakeoverAttempt>> find_by_session(const std::string& account_uuid,
                                                         const std::string& session_id) override;
  Status transition(const std::string& id, const std::string& from, const std::string& to) override;

 private:
  SqliteDatabase& database_;
};

}  // namespace latchkey
