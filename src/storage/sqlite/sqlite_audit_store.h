// AuditStore on a SqliteDatabase: the audit_log table (migration 7), one row per entry keyed by seq.
#pragma once

#include "storage/audit_store.h"
#include "storage/sqlite/sqlite_database.h"

namespace latchkey {

// Thread-safe. append() is a write closure (durable when it answers); the others read a snapshot.
class SqliteAuditStore final : public AuditStore {
 public:
  explicit SqliteAuditStore(SqliteDatabase& database) : database_(database) {}

  Result<AuditEntry> append(const EntryBuilder& build) override;
  Result<std::vector<AuditEntry>> list(std::int64_t before, int limit) override;
  Result<std::vector<AuditRow>> read_range(std::int64_t from_seq, int limit) override;
  Result<AuditHead> head() override;

 private:
  SqliteDatabase& database_;
};

}  // namespace latchkey
