// VerificationSessionStore on a SqliteDatabase: one row per session in verification_sessions.
#pragma once

#include "storage/sqlite/sqlite_database.h"
#include "storage/verification_session_store.h"

namespace latchkey {

// Thread-safe (every call goes through SqliteDatabase). Writes are group-committed and durable when they
// answer ok; reads use the read-only pool. Errors besides those of VerificationSessionStore: kUnavailable
// once the database is closed or locked by another process, kInternal for any other SQLite failure (including
// an insert whose id already exists).
class SqliteSessionStore final : public VerificationSessionStore {
 public:
  // `database` is not owned and must outlive the store.
  explicit SqliteSessionStore(SqliteDatabase& database) : database_(database) {}

  Status insert(const VerificationSession& session) override;
  Result<std::optional<VerificationSession>> find(const std::string& id) override;
  Status update(const VerificationSession& session) override;
  Result<int> delete_expired(EpochMillis now, int limit) override;
  Result<int> invalidate_by_provider(const std::string& provider, EpochMillis now) override;

 private:
  SqliteDatabase& database_;
};

}  // namespace latchkey
