#include "storage/sqlite/sqlite_audit_store.h"

#include <string_view>

namespace latchkey {
namespace {

constexpr std::string_view kSelectHead = "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1";
constexpr std::string_view kInsert =
    "INSERT INTO audit_log (seq, at, actor, action, target, details, prev_hash, hash) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
constexpr std::string_view kSelectBefore =
    "SELECT seq, at, actor, action, target, details, prev_hash, hash FROM audit_log "
    "WHERE (?1 <= 0 OR seq < ?1) ORDER BY seq DESC LIMIT ?2";
constexpr std::string_view kSelectRange =
    "SELECT seq, at, actor, action, target, details, prev_hash, hash FROM audit_log "
    "WHERE seq >= ?1 ORDER BY seq LIMIT ?2";

Result<AuditHead> head_in(SqliteConnection& connection) {
  auto select = connection.prepare(kSelectHead);
  if (!select.ok()) return select.take_error();
  Result<bool> row = select->step("reading the audit head");
  if (!row.ok()) return row.take_error();
  AuditHead head;
  if (!*row) {
    head.hash.assign(32, '\0');
    return head;
  }
  head.seq = select->column_int64(0);
  head.hash = select->column_blob(1);
  return head;
}

AuditRow row_from(const SqliteStatement& statement) {
  AuditRow row;
  row.seq = statement.column_int64(0);
  row.at = statement.column_int64(1);
  row.actor = statement.column_text(2);
  row.action = statement.column_text(3);
  row.target = statement.column_text(4);
  row.details = statement.column_text(5);
  row.prev_hash = statement.column_blob(6);
  row.hash = statement.column_blob(7);
  return row;
}

// Runs a prepared SELECT of audit rows to the end.
Result<std::vector<AuditRow>> collect(SqliteStatement& select, std::string_view what) {
  std::vector<AuditRow> rows;
  for (;;) {
    Result<bool> row = select.step(what);
    if (!row.ok()) return row.take_error();
    if (!*row) break;
    rows.push_back(row_from(select));
  }
  return rows;
}

}  // namespace

Result<AuditEntry> SqliteAuditStore::append(const EntryBuilder& build) {
  return database_.write_returning<AuditEntry>([&](SqliteConnection& connection) -> Result<AuditEntry> {
    Result<AuditHead> head = head_in(connection);
    if (!head.ok()) return head.take_error();
    Result<AuditEntry> entry = build(*head);
    if (!entry.ok()) return entry.take_error();
    if (entry->seq != head->seq + 1 || entry->prev_hash != head->hash)
      return make_error(ErrorCode::kInternal, "audit entry does not follow the head of the log");
    std::string details;
    try {
      details = entry->details.dump();
    } catch (const nlohmann::json::exception&) {
      return make_error(ErrorCode::kInternal, "audit entry details cannot be serialised");
    }
    auto insert = connection.prepare(kInsert);
    if (!insert.ok()) return insert.take_error();
    insert->bind_int64(1, entry->seq);
    insert->bind_int64(2, entry->at);
    insert->bind_text(3, entry->actor);
    insert->bind_text(4, entry->action);
    insert->bind_text(5, entry->target);
    insert->bind_text(6, details);
    insert->bind_blob(7, entry->prev_hash);
    insert->bind_blob(8, entry->hash);
    LK_RETURN_IF_ERROR(insert->run("appending an audit entry"));
    return std::move(entry).value();
  });
}

Result<std::vector<AuditEntry>> SqliteAuditStore::list(std::int64_t before, int limit) {
  auto rows = database_.read_returning<std::vector<AuditRow>>(
      [&](SqliteConnection& connection) -> Result<std::vector<AuditRow>> {
        auto select = connection.prepare(kSelectBefore);
        if (!select.ok()) return select.take_error();
        select->bind_int64(1, before);
        select->bind_int64(2, limit);
        return collect(*select, "listing audit entries");
      });
  if (!rows.ok()) return rows.take_error();
  std::vector<AuditEntry> entries;
  entries.reserve(rows->size());
  for (AuditRow& row : *rows) {
    AuditEntry entry;
    entry.seq = row.seq;
    entry.at = row.at;
    entry.actor = std::move(row.actor);
    entry.action = std::move(row.action);
    entry.target = std::move(row.target);
    entry.details = nlohmann::json::parse(row.details, nullptr, /*allow_exceptions=*/false);
    if (entry.details.is_discarded()) entry.details = row.details;
    entry.prev_hash = std::move(row.prev_hash);
    entry.hash = std::move(row.hash);
    entries.push_back(std::move(entry));
  }
  return entries;
}

Result<std::vector<AuditRow>> SqliteAuditStore::read_range(std::int64_t from_seq, int limit) {
  return database_.read_returning<std::vector<AuditRow>>(
      [&](SqliteConnection& connection) -> Result<std::vector<AuditRow>> {
        auto select = connection.prepare(kSelectRange);
        if (!select.ok()) return select.take_error();
        select->bind_int64(1, from_seq);
        select->bind_int64(2, limit);
        return collect(*select, "reading audit entries");
      });
}

Result<AuditHead> SqliteAuditStore::head() {
  return database_.read_returning<AuditHead>([](SqliteConnection& connection) { return head_in(connection); });
}

}  // namespace latchkey
