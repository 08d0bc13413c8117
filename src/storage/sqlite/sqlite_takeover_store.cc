#include "storage/sqlite/sqlite_takeover_store.h"

#include <string_view>

namespace latchkey {
namespace {

constexpr std::string_view kInsert =
    "INSERT INTO takeover_attempts (id, account_uuid, session_id, created_at, not_before, state) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
constexpr std::string_view kSelectById =
    "SELECT id, account_uuid, session_id, created_at, not_before, state FROM takeover_attempts WHERE id = ?1";
constexpr std::string_view kSelectBySession =
    "SELECT id, account_uuid, session_id, created_at, not_before, state FROM takeover_attempts "
    "WHERE account_uuid = ?1 AND session_id = ?2";
constexpr std::string_view kTransition = "UPDATE takeover_attempts SET state = ?3 WHERE id = ?1 AND state = ?2";
constexpr std::string_view kExists = "SELECT 1 FROM takeover_attempts WHERE id = ?1";

Result<std::optional<TakeoverAttempt>> read_one(SqliteStatement& select, const char* what) {
  Result<bool> row = select.step(what);
  if (!row.ok()) return row.take_error();
  if (!*row) return std::optional<TakeoverAttempt>();
  TakeoverAttempt a;
  a.id = select.column_text(0);
  a.account_uuid = select.column_text(1);
  a.session_id = select.column_text(2);
  a.created_at = select.column_int64(3);
  a.not_before = select.column_int64(4);
  a.state = select.column_text(5);
  return std::optional<TakeoverAttempt>(std::move(a));
}

}  // namespace

Status SqliteTakeoverStore::create(const TakeoverAttempt& attempt) {
  return database_.write([&](SqliteConnection& connection) -> Status {
    auto insert = connection.prepare(kInsert);
    if (!insert.ok()) return insert.take_error();
    insert->bind_text(1, attempt.id);
    insert->bind_text(2, attempt.account_uuid);
    insert->bind_text(3, attempt.session_id);
    insert->bind_int64(4, attempt.created_at);
    insert->bind_int64(5, attempt.not_before);
    insert->bind_text(6, attempt.state);
    Result<int> done = insert->run("storing a takeover attempt");
    if (!done.ok()) return done.take_error();
    return {};
  });
}

Result<std::optional<TakeoverAttempt>> SqliteTakeoverStore::find(const std::string& id) {
  return database_.read_returning<std::optional<TakeoverAttempt>>(
      [&id](SqliteConnection& connection) -> Result<std::optional<TakeoverAttempt>> {
        auto select = connection.prepare(kSelectById);
        if (!select.ok()) return select.take_error();
        select->bind_text(1, id);
        return read_one(*select, "reading a takeover attempt");
      });
}

Result<std::optional<TakeoverAttempt>> SqliteTakeoverStore::find_by_session(const std::string& account_uuid,
                                                                           const std::string& session_id) {
  return database_.read_returning<std::optional<TakeoverAttempt>>(
      [&](SqliteConnection& connection) -> Result<std::optional<TakeoverAttempt>> {
        auto select = connection.prepare(kSelectBySession);
        if (!select.ok()) return select.take_error();
        select->bind_text(1, account_uuid);
        select->bind_text(2, session_id);
        return read_one(*select, "reading a takeover attempt");
      });
}

Status SqliteTakeoverStore::transition(const std::string& id, const std::string& from, const std::string& to) {
  return database_.write([&](SqliteConnection& connection) -> Status {
    auto update = connection.prepare(kTransition);
    if (!update.ok()) return update.take_error();
    update->bind_text(1, id);
    update->bind_text(2, from);
    update->bind_text(3, to);
    Result<int> changed = update->run("changing a takeover attempt");
    if (!changed.ok()) return changed.take_error();
    if (*changed == 1) return {};
    auto exists = connection.prepare(kExists);
    if (!exists.ok()) return exists.take_error();
    exists->bind_text(1, id);
    Result<bool> row = exists->step("reading a takeover attempt");
    if (!row.ok()) return row.take_error();
    return *row ? make_error(ErrorCode::kConflict, "the takeover attempt was already decided")
                : make_error(ErrorCode::kNotFound, "no such takeover attempt");
  });
}

}  // namespace latchkey
