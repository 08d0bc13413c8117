#include "storage/sqlite/sqlite_notice_store.h"

#include <sqlite3.h>

#include <string_view>

namespace latchkey {
namespace {

constexpr std::string_view kInsertNotice =
    "INSERT INTO notices (account_uuid, kind, details_json, created_at) VALUES (?1, ?2, ?3, ?4)";
constexpr std::string_view kSelectNotices =
    "SELECT id, account_uuid, kind, details_json, created_at FROM notices "
    "WHERE account_uuid = ?1 AND id > ?2 ORDER BY id LIMIT ?3";
constexpr std::string_view kDeleteOldNotices =
    "DELETE FROM notices WHERE id IN (SELECT id FROM notices WHERE created_at < ?1 ORDER BY created_at "
    "LIMIT ?2)";

}  // namespace

Result<std::int64_t> SqliteNoticeStore::add(const std::string& account_uuid, const std::string& kind,
                                            const std::string& details_json, EpochMillis now) {
  return database_.write_returning<std::int64_t>([&](SqliteConnection& connection) -> Result<std::int64_t> {
    auto insert = connection.prepare(kInsertNotice);
    if (!insert.ok()) return insert.take_error();
    insert->bind_text(1, account_uuid);
    insert->bind_text(2, kind);
    insert->bind_text(3, details_json);
    insert->bind_int64(4, now);
    Result<int> inserted = insert->run("storing a notice");
    if (!inserted.ok()) return inserted.take_error();
    return static_cast<std::int64_t>(sqlite3_last_insert_rowid(connection.handle()));
  });
}

Result<std::vector<Notice>> SqliteNoticeStore::list(const std::string& account_uuid, std::int64_t after_id,
                                                    int limit) {
  if (limit <= 0) return std::vector<Notice>();
  return database_.read_returning<std::vector<Notice>>(
      [&account_uuid, after_id, limit](SqliteConnection& connection) -> Result<std::vector<Notice>> {
        auto select = connection.prepare(kSelectNotices);
        if (!select.ok()) return select.take_error();
        select->bind_text(1, account_uuid);
        select->bind_int64(2, after_id);
        select->bind_int64(3, limit);
        std::vector<Notice> notices;
        for (;;) {
          Result<bool> row = select->step("reading notices");
          if (!row.ok()) return row.take_error();
          if (!*row) break;
          Notice notice;
          notice.id = select->column_int64(0);
          notice.account_uuid = select->column_text(1);
          notice.kind = select->column_text(2);
          notice.details_json = select->column_text(3);
          notice.created_at = select->column_int64(4);
          notices.push_back(std::move(notice));
        }
        return notices;
      });
}

Result<int> SqliteNoticeStore::delete_older_than(EpochMillis before, int limit) {
  if (limit <= 0) return 0;
  return database_.write_returning<int>([before, limit](SqliteConnection& connection) -> Result<int> {
    auto remove = connection.prepare(kDeleteOldNotices);
    if (!remove.ok()) return remove.take_error();
    remove->bind_int64(1, before);
    remove->bind_int64(2, limit);
    return remove->run("deleting old notices");
  });
}

}  // namespace latchkey
