// NoticeStore on a SqliteDatabase: one row per notice in notices (ids from AUTOINCREMENT, so never reused),
// removed with the account by ON DELETE CASCADE.
#pragma once

#include "storage/notice_store.h"
#include "storage/sqlite/sqlite_database.h"

namespace latchkey {

// Thread-safe (every call goes through SqliteDatabase). Writes are group-committed and durable when they
// answer ok; reads use the read-only pool. Errors besides those of NoticeStore: kUnavailable once the
// database is closed or locked by another process, kInternal for any other SQLite failure (for example add()
// for an account that does not exist).
class SqliteNoticeStore final : public NoticeStore {
 public:
  // `database` is not owned and must outlive the store.
  explicit SqliteNoticeStore(SqliteDatabase& database) : database_(database) {}

  Result<std::int64_t> add(const std::string& account_uuid, const std::string& kind,
                           const std::string& details_json, EpochMillis now) override;
  // A limit <= 0 answers no notices.
  Result<std::vector<Notice>> list(const std::string& account_uuid, std::int64_t after_id, int limit) override;
  // Deletes the oldest first; a limit <= 0 deletes nothing.
  Result<int> delete_older_than(EpochMillis before, int limit) override;

 private:
  SqliteDatabase& database_;
};

}  // namespace latchkey
