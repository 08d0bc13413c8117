#include "storage/sqlite/sqlite_message_store.h"

#include <sqlite3.h>

#include <algorithm>
#include <memory>
#include <string_view>

#include "core/logging.h"

namespace latchkey {
namespace {

constexpr std::string_view kSelectDevice =
    "SELECT registration_id, queued FROM devices WHERE account_uuid = ?1 AND device_id = ?2";
constexpr std::string_view kReserve =
    "UPDATE devices SET queued = queued + 1 WHERE account_uuid = ?1 AND device_id = ?2";
constexpr std::string_view kInsert =
    "INSERT INTO messages (account_uuid, device_id, source_uuid, source_device, type, timestamp, server_timestamp, "
    "content) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
constexpr std::string_view kFetch =
    "SELECT id, source_uuid, source_device, type, timestamp, server_timestamp, content FROM messages "
    "WHERE account_uuid = ?1 AND device_id = ?2 AND id > ?3 ORDER BY id LIMIT ?4";
constexpr std::string_view kDelete = "DELETE FROM messages WHERE id = ?1 AND account_uuid = ?2 AND device_id = ?3";
constexpr std::string_view kRelease =
    "UPDATE devices SET queued = max(queued - ?3, 0) WHERE account_uuid = ?1 AND device_id = ?2";
constexpr std::string_view kCount = "SELECT count(*) FROM messages WHERE account_uuid = ?1 AND device_id = ?2";

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
    auto release = connection.prepare(kRelease);
    if (!release.ok()) return release.take_error();
    release->bind_text(1, uuid);
    release->bind_int64(2, device_id);
    release->bind_int64(3, deleted);
    LK_RETURN_IF_ERROR(release->run("releasing queue slots"));
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
          auto reserve = connection.prepare(kReserve);
          if (!reserve.ok()) return reserve.take_error();
          reserve->bind_text(1, e.destination_uuid);
          reserve->bind_int64(2, e.destination_device);
          LK_RETURN_IF_ERROR(reserve->run("reserving a queue slot"));
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
