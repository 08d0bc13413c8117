// AlertQueries on a SqliteDatabase (audit_log, registration_log and verification_sessions).
#pragma once

#include "storage/alert_queries.h"
#include "storage/sqlite/sqlite_database.h"

namespace latchkey {

class SqliteAlertQueries final : public AlertQueries {
 public:
  explicit SqliteAlertQueries(SqliteDatabase& database) : database_(database) {}

  Result<std::vector<StaffLookupCount>> staff_lookups(EpochMillis since) override;
  Result<std::int64_t> established_reregistrations(EpochMillis since, std::int64_t established_ms) override;
  Result<std::vector<KeyedCount>> unverified_codes_by_prefix(EpochMillis since) override;
  Result<std::vector<KeyedCount>> registrations_by_provider(EpochMillis since) override;

 private:
  Result<std::vector<KeyedCount>> keyed(std::string_view sql, EpochMillis since, std::string_view what);
  SqliteDatabase& database_;
};

}  // namespace latchkey
