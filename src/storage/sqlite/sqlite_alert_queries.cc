#include "storage/sqlite/sqlite_alert_queries.h"

namespace latchkey {

Result<std::vector<StaffLookupCount>> SqliteAlertQueries::staff_lookups(EpochMillis since) {
  return database_.read_returning<std::vector<StaffLookupCount>>(
      [&](SqliteConnection& connection) -> Result<std::vector<StaffLookupCount>> {
        auto select = connection.prepare(
            "SELECT actor, count(*), sum(CASE WHEN coalesce(json_extract(details, '$.case'), '') = '' THEN 1 ELSE 0 "
            "END) FROM audit_log WHERE action = 'account.lookup' AND at >= ?1 GROUP BY actor ORDER BY actor");
        if (!select.ok()) return select.take_error();
        select->bind_int64(1, since);
        std::vector<StaffLookupCount> out;
        for (;;) {
          Result<bool> row = select->step("counting staff lookups");
          if (!row.ok()) return row.take_error();
          if (!*row) break;
          out.push_back({select->column_text(0), select->column_int64(1), select->column_int64(2)});
        }
        return out;
      });
}

Result<std::int64_t> SqliteAlertQueries::established_reregistrations(EpochMillis since, std::int64_t established_ms) {
  return database_.read_returning<std::int64_t>([&](SqliteConnection& connection) -> Result<std::int64_t> {
    auto select = connection.prepare(
        "SELECT count(*) FROM registration_log WHERE at >= ?1 AND replaced_existing = 1 AND "
        "account_created_at <= at - ?2");
    if (!select.ok()) return select.take_error();
    select->bind_int64(1, since);
    select->bind_int64(2, established_ms);
    Result<bool> row = select->step("counting re-registrations");
    if (!row.ok()) return row.take_error();
    return select->column_int64(0);
  });
}

Result<std::vector<KeyedCount>> SqliteAlertQueries::keyed(std::string_view sql, EpochMillis since,
                                                          std::string_view what) {
  return database_.read_returning<std::vector<KeyedCount>>(
      [&](SqliteConnection& connection) -> Result<std::vector<KeyedCount>> {
        auto select = connection.prepare(sql);
        if (!select.ok()) return select.take_error();
        select->bind_int64(1, since);
        std::vector<KeyedCount> out;
        for (;;) {
          Result<bool> row = select->step(what);
          if (!row.ok()) return row.take_error();
          if (!*row) break;
          out.push_back({select->column_text(0), select->column_int64(1)});
        }
        return out;
      });
}

Result<std::vector<KeyedCount>> SqliteAlertQueries::unverified_codes_by_prefix(EpochMillis since) {
  return keyed(
      "SELECT country_code, count(*) FROM verification_sessions WHERE created_at >= ?1 AND "
      "(sms_sent > 0 OR calls_made > 0) AND verified_at = 0 GROUP BY country_code ORDER BY country_code",
      since, "counting unverified codes");
}

Result<std::vector<KeyedCount>> SqliteAlertQueries::registrations_by_provider(EpochMillis since) {
  return keyed("SELECT provider, count(*) FROM registration_log WHERE at >= ?1 GROUP BY provider ORDER BY provider",
               since, "counting registrations by provider");
}

}  // namespace latchkey
