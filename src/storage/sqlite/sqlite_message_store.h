// MessageStore on a SqliteDatabase: one row per queued envelope, keyed by an AUTOINCREMENT id (never reused),
// indexed by (destination account, device, id). The queue limit is checked against a count per device kept in
// the writer's connection, in memory (temp.queue_counts, filled from the queue index at open; see
// kWriterTemporarySchema in sqlite_database.cc): stored envelopes add to it and deleted ones take from it in
// the same transaction. A counter in the file would put the device's page into the log with every commit that
// touches its queue.
#pragma once

#include "storage/message_store.h"
#include "storage/sqlite/sqlite_database.h"

namespace latchkey {

// Thread-safe. insert() and acknowledge() go through SqliteDatabase::write_async: they never block the caller.
class SqliteMessageStore final : public MessageStore {
 public:
  explicit SqliteMessageStore(SqliteDatabase& database) : database_(database) {}

  void insert(std::vector<Envelope> envelopes, std::size_t max_queued, InsertDone done) override;
  Result<std::vector<Envelope>> fetch(const std::string& uuid, std::uint32_t device_id, std::int64_t after_id,
                                      int limit) override;
  void acknowledge(const std::string& uuid, std::uint32_t device_id, std::vector<std::int64_t> ids) override;
  Status settle() override;
  Result<int> acknowledge_sync(const std::string& uuid, std::uint32_t device_id,
                               const std::vector<std::int64_t>& ids) override;
  Result<std::size_t> count(const std::string& uuid, std::uint32_t device_id) override;

 private:
  SqliteDatabase& database_;
};

}  // namespace latchkey
