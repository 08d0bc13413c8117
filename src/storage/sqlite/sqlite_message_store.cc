#include "storage/sqlite/sqlite_message_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <string_view>

#include "core/logging.h"

namespace latchkey {
namespace {

// The destination's registration id and the envelopes queued for it (no entry in queue_counts: none).
constexpr std::string_view kSelectDevice =
    "SELECT d.registration_id, coalesce(q.queued, 0) FROM devices AS d LEFT JOIN temp.queue_counts AS q "
    "ON q.account_uuid = d.account_uuid AND q.device_id = d.device_id WHERE d.account_uuid = ?1 AND "
    "d.device_id = ?2";
constexpr std::string_view kInsert =
    "INSERT INTO messages (account_uuid, device_id, source_uuid, source_device, type, timestamp, server_timestamp, "
    "content) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
// After an envelope is stored: one more in the device's entry, or a new entry of one (no entry: none queued).
constexpr std::string_view kCountOneMore =
    "INSERT INTO temp.queue_counts (account_uuid, device_id, queued) VALUES (?1, ?2, 1) "
    "ON CONFLICT (account_uuid, device_id) DO UPDATE SET queued = queued + 1";
constexpr std::string_view kFetch =
    "SELECT id, source_uuid, source_device, type, timestamp, server_timestamp, content FROM messages "
    "WHERE account_uuid = ?1 AND device_id = ?2 AND id > ?3 ORDER BY id LIMIT ?4";
constexpr std::string_view kDelete = "DELETE FROM messages WHERE id = ?1 AND account_uuid = ?2 AND device_id = ?3";
// After envelopes are deleted: the entry goes when nothing is left (queue_counts stays as small as the
// queues), else it counts ?3 fewer.
constexpr std::string_view kForgetEmptied =
    "DELETE FROM temp.queue_counts WHERE account_uuid = ?1 AND device_id = ?2 AND queued <= ?3";
constexpr std::string_view kCountFewer =
    "UPDATE temp.queue_counts SET queued = queued - ?3 WHERE account_uuid = ?1 AND device_id = ?2";
constexpr std::string_view kCount = "SELECT count(*) FROM messages WHERE account_uuid = ?1 AND device_id = ?2";

// Runs `sql` with the device bound to ?1 and ?2, and `n` to ?3 if given; answers the rows changed.
Result<int> run_for_device(SqliteConnection& connection, std::string_view sql, const std::string& uuid,
                           std::uint32_t device_id, std::optional<std::int64_t> n, std::string_view what) {
  auto statement = connection.prepare(sql);
  if (!statement.ok()) return statement.take_error();
  statement->bind_text(1, uuid);
  statement->bind_int64(2, device_id);
  if (n) statement->bind_int64(3, *n);
  return statement->run(what);
}

// Refuses the envelopes before anything is written (the insert runs as WriteKind::kChecksBeforeWriting): an
// unknown destination device, a stale registration id, or a full queue.
Status check_destinations(SqliteConnection& connection, const std::vector<Envelope>& envelopes,
                          std::size_t max_queued) {
  for (std::size_t k = 0; k < envelopes.size(); ++k) {
    const Envelope& e = envelopes[k];
    auto select = connection.prepare(kSelectDevice);
    if (!select.ok()) return select.take_error();
    select->bind_text(1, e.destination_uuid);
    select->bind_int64(2, e.destination_device);
    Result<bool> row = select->step("reading a destination device");
    if (!row.ok()) return row.take_error();
    if (!*row) return make_error(ErrorCode::kNotFound, "the destination device does not exist");
    if (select->column_int64(0) != e.destination_registration_id) {
      Error error = make_error(ErrorCode::kStaleDevices, "a destination device was replaced");
      error.details = {{"staleDevices", {e.destination_device}}};
      return error;
    }
    // Earlier envelopes of this write to the same device take slots too.
    std::size_t queued = static_cast<std::size_t>(std::max<std::int64_t>(select->column_int64(1), 0));
    for (std::size_t j = 0; j < k; ++j) {
      if (envelopes[j].destination_device == e.destination_device &&
          envelopes[j].destination_uuid == e.destination_uuid) {
        ++queued;
      }
    }
    if (queued >= max_queued) return make_error(ErrorCode::kRateLimited, "the destination's queue is full");
  }
  return {};
}

Result<int> delete_ids(SqliteConnection& connection, const std::string& uuid, std::uint32_t device_id,
                       const std::vector<std::int64_t>& ids) {
  int deleted = 0;
  for (std::int64_t id : ids) {
    auto remove = connection.prepare(kDelete);
    if (!remove.ok()) return remove.take_error();
    remove->bind_int64(1, id);
    remove->bind_text(2, uuid);
    remove->bind_int64(3, device_id);
    Result<int> n = remove->run("deleting an acknowledged envelope");
    if (!n.ok()) return n.take_error();
    deleted += *n;
  }
  if (deleted > 0) {
    Result<int> forgot =
        run_for_device(connection, kForgetEmptied, uuid, device_id, deleted, "releasing queue slots");
    if (!forgot.ok()) return forgot.take_error();
    if (*forgot == 0) {
      LK_RETURN_IF_ERROR(
          run_for_device(connection, kCountFewer, uuid, device_id, deleted, "releasing queue slots"));
    }
  }
  return deleted;
}

}  // namespace

void SqliteMessageStore::insert(std::vector<Envelope> envelopes, std::size_t max_queued, InsertDone done) {
  auto shared = std::make_shared<std::vector<Envelope>>(std::move(envelopes));
  database_.write_async(
      [shared, max_queued](SqliteConnection& connection) -> Status {
        LK_RETURN_IF_ERROR(check_destinations(connection, *shared, max_queued));
        for (Envelope& e : *shared) {
          auto insert = connection.prepare(kInsert);
          if (!insert.ok()) return insert.take_error();
          insert->bind_text(1, e.destination_uuid);
          insert->bind_int64(2, e.destination_device);
          insert->bind_text(3, e.source_uuid);
          insert->bind_int64(4, e.source_device);
          insert->bind_int64(5, e.type);
          insert->bind_int64(6, e.timestamp);
          insert->bind_int64(7, e.server_timestamp);
          insert->bind_blob(8, e.content);
          LK_RETURN_IF_ERROR(insert->run("storing an envelope"));
          e.id = static_cast<std::int64_t>(sqlite3_last_insert_rowid(connection.handle()));
          LK_RETURN_IF_ERROR(run_for_device(connection, kCountOneMore, e.destination_uuid,
                                            e.destination_device, std::nullopt, "taking a queue slot"));
        }
        return {};
      },
      [shared, done = std::move(done)](Status status) {
        if (!status.ok()) {
          done(status.take_error());
          return;
        }
        done(std::move(*shared));
      },
      WriteKind::kChecksBeforeWriting);
}

Result<std::vector<Envelope>> SqliteMessageStore::fetch(const std::string& uuid, std::uint32_t device_id,
                                                        std::int64_t after_id, int limit) {
  return database_.read_returning<std::vector<Envelope>>(
      [&](SqliteConnection& connection) -> Result<std::vector<Envelope>> {
        auto select = connection.prepare(kFetch);
        if (!select.ok()) return select.take_error();
        select->bind_text(1, uuid);
        select->bind_int64(2, device_id);
        select->bind_int64(3, after_id);
        select->bind_int64(4, limit);
        std::vector<Envelope> out;
        for (;;) {
          Result<bool> row = select->step("reading queued envelopes");
          if (!row.ok()) return row.take_error();
          if (!*row) break;
          Envelope e;
          e.id = select->column_int64(0);
          e.destination_uuid = uuid;
          e.destination_device = device_id;
          e.source_uuid = select->column_text(1);
          e.source_device = static_cast<std::uint32_t>(select->column_int64(2));
          e.type = static_cast<int>(select->column_int64(3));
          e.timestamp = select->column_int64(4);
          e.server_timestamp = select->column_int64(5);
          e.content = select->column_blob(6);
          out.push_back(std::move(e));
        }
        return out;
      });
}

void SqliteMessageStore::acknowledge(const std::string& uuid, std::uint32_t device_id, std::vector<std::int64_t> ids) {
  if (ids.empty()) return;
  database_.write_async(
      [uuid, device_id, ids = std::move(ids)](SqliteConnection& connection) -> Status {
        Result<int> deleted = delete_ids(connection, uuid, device_id, ids);
        if (!deleted.ok()) return deleted.take_error();
        return {};
      },
      [](Status status) {
        if (!status.ok()) log::warn("acknowledge_failed", {{"error", status.error().message}});
      },
      WriteKind::kChecksBeforeWriting,  // it fails only on a storage error
      WriteDurability::kCommitted);     // a lost acknowledgement means a redelivery, which clients tolerate
}

Status SqliteMessageStore::settle() {
  // Writes are applied in submission order; an empty write completes after every earlier one (and, changing
  // nothing, costs no fsync).
  return database_.write([](SqliteConnection&) -> Status { return {}; }, WriteKind::kChecksBeforeWriting,
                         WriteDurability::kCommitted);
}

Result<int> SqliteMessageStore::acknowledge_sync(const std::string& uuid, std::uint32_t device_id,
                                                 const std::vector<std::int64_t>& ids) {
  return database_.write_returning<int>(
      [&](SqliteConnection& connection) { return delete_ids(connection, uuid, device_id, ids); },
      WriteKind::kChecksBeforeWriting);
}

Result<std::size_t> SqliteMessageStore::count(const std::string& uuid, std::uint32_t device_id) {
  return database_.read_returning<std::size_t>([&](SqliteConnection& connection) -> Result<std::size_t> {
    auto select = connection.prepare(kCount);
    if (!select.ok()) return select.take_error();
    select->bind_text(1, uuid);
    select->bind_int64(2, device_id);
    Result<bool> row = select->step("counting queued envelopes");
    if (!row.ok()) return row.take_error();
    return static_cast<std::size_t>(select->column_int64(0));
  });
}

}  // namespace latchkey
