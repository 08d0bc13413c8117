#include "storage/sqlite/sqlite_incident_store.h"

#include <string_view>

namespace latchkey {
namespace {

constexpr std::string_view kIncidentColumns =
    "id, description, source, provider, window_start, window_end, state, created_by, created_at, approved_by, "
    "approved_at, started_at, completed_at";

constexpr std::string_view kTargetColumns =
    "t.number, t.uuid, t.has_account, t.registered_in_window, t.has_registration_lock, t.language, "
    "t.unregistered_at, t.notified_at, t.notify_provider, t.notify_message_id, t.last_error";

Incident read_incident(const SqliteStatement& s) {
  Incident i;
  i.id = s.column_text(0);
  i.description = s.column_text(1);
  i.source = s.column_text(2);
  i.provider = s.column_text(3);
  i.window_start = s.column_int64(4);
  i.window_end = s.column_int64(5);
  i.state = s.column_text(6);
  i.created_by = s.column_text(7);
  i.created_at = s.column_int64(8);
  i.approved_by = s.column_text(9);
  i.approved_at = s.column_int64(10);
  i.started_at = s.column_int64(11);
  i.completed_at = s.column_int64(12);
  return i;
}

IncidentTarget read_target(const SqliteStatement& s) {
  IncidentTarget t;
  t.number = s.column_text(0);
  t.uuid = s.column_text(1);
  t.has_account = s.column_int64(2) != 0;
  t.registered_in_window = s.column_int64(3) != 0;
  t.has_registration_lock = s.column_int64(4) != 0;
  t.language = s.column_text(5);
  t.unregistered_at = s.column_int64(6);
  t.notified_at = s.column_int64(7);
  t.notify_provider = s.column_text(8);
  t.notify_message_id = s.column_text(9);
  t.last_error = s.column_text(10);
  return t;
}

Status run_bound(SqliteConnection& connection, std::string_view sql, std::string_view what,
                 const std::function<void(SqliteStatement&)>& bind) {
  auto statement = connection.prepare(sql);
  if (!statement.ok()) return statement.take_error();
  bind(*statement);
  Result<int> ran = statement->run(what);
  if (!ran.ok()) return ran.take_error();
  return {};
}

}  // namespace

Result<std::vector<RegistrationLogEntry>> SqliteIncidentStore::registrations_through(const std::string& provider,
                                                                                    EpochMillis since, int limit) {
  return database_.read_returning<std::vector<RegistrationLogEntry>>(
      [&](SqliteConnection& connection) -> Result<std::vector<RegistrationLogEntry>> {
        auto select = connection.prepare(
            "SELECT number, uuid, at, provider, replaced_existing, account_created_at FROM registration_log "
            "WHERE provider = ?1 AND at >= ?2 ORDER BY at DESC LIMIT ?3");
        if (!select.ok()) return select.take_error();
        select->bind_text(1, provider);
        select->bind_int64(2, since);
        select->bind_int64(3, limit);
        std::vector<RegistrationLogEntry> out;
        for (;;) {
          Result<bool> row = select->step("reading the registration log");
          if (!row.ok()) return row.take_error();
          if (!*row) break;
          out.push_back({select->column_text(0), select->column_text(1), select->column_int64(2),
                         select->column_text(3), select->column_int64(4) != 0, select->column_int64(5)});
        }
        return out;
      });
}

Status SqliteIncidentStore::put_compromise(const ProviderCompromise& c) {
  return database_.write([&](SqliteConnection& connection) -> Status {
    return run_bound(connection,
                     "INSERT INTO provider_compromises (provider, breach_started_at, marked_at, marked_by, note) "
                     "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (provider) DO UPDATE SET "
                     "breach_started_at = excluded.breach_started_at, marked_at = excluded.marked_at, "
                     "marked_by = excluded.marked_by, note = excluded.note",
                     "marking a provider compromised", [&](SqliteStatement& s) {
                       s.bind_text(1, c.provider);
                       s.bind_int64(2, c.breach_started_at);
                       s.bind_int64(3, c.marked_at);
                       s.bind_text(4, c.marked_by);
                       s.bind_text(5, c.note);
                     });
  });
}

Status SqliteIncidentStore::delete_compromise(const std::string& provider) {
  return database_.write([&](SqliteConnection& connection) -> Status {
    return run_bound(connection, "DELETE FROM provider_compromises WHERE provider = ?1", "restoring a provider",
                     [&](SqliteStatement& s) { s.bind_text(1, provider); });
  });
}

Result<std::vector<ProviderCompromise>> SqliteIncidentStore::compromises() {
  return database_.read_returning<std::vector<ProviderCompromise>>(
      [&](SqliteConnection& connection) -> Result<std::vector<ProviderCompromise>> {
        auto select = connection.prepare(
            "SELECT provider, breach_started_at, marked_at, marked_by, note FROM provider_compromises ORDER BY provider");
        if (!select.ok()) return select.take_error();
        std::vector<ProviderCompromise> out;
        for (;;) {
          Result<bool> row = select->step("reading compromised providers");
          if (!row.ok()) return row.take_error();
          if (!*row) break;
          out.push_back({select->column_text(0), select->column_int64(1), select->column_int64(2),
                         select->column_text(3), select->column_text(4)});
        }
        return out;
      });
}

Status SqliteIncidentStore::create_incident(const Incident& incident, const std::vector<std::string>& numbers,
                                            const std::vector<std::string>& languages) {
  return database_.write([&](SqliteConnection& connection) -> Status {
    LK_RETURN_IF_ERROR(run_bound(
        connection,
        "INSERT INTO incidents (id, description, source, provider, window_start, window_end, state, created_by, "
        "created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'draft', ?7, ?8)",
        "creating an incident", [&](SqliteStatement& s) {
          s.bind_text(1, incident.id);
          s.bind_text(2, incident.description);
          s.bind_text(3, incident.source);
          s.bind_text(4, incident.provider);
          s.bind_int64(5, incident.window_start);
          s.bind_int64(6, incident.window_end);
          s.bind_text(7, incident.created_by);
          s.bind_int64(8, incident.created_at);
        }));
    for (std::size_t i = 0; i < numbers.size(); ++i) {
      // The impact of one number, computed where the data is.
      LK_RETURN_IF_ERROR(run_bound(
          connection,
          "INSERT INTO incident_targets (incident_id, number, uuid, has_account, registered_in_window, "
          "has_registration_lock, language) "
          "SELECT ?1, ?2, coalesce(a.uuid, ''), a.uuid IS NOT NULL, "
          "EXISTS (SELECT 1 FROM registration_log r WHERE r.number = ?2 AND r.at BETWEEN ?3 AND ?4), "
          "coalesce(length(a.registration_lock_record) > 0, 0), ?5 "
          "FROM (SELECT 1) LEFT JOIN accounts a ON a.number = ?2",
          "adding an incident target", [&](SqliteStatement& s) {
            s.bind_text(1, incident.id);
            s.bind_text(2, numbers[i]);
            s.bind_int64(3, incident.window_start);
            s.bind_int64(4, incident.window_end);
            s.bind_text(5, languages[i]);
          }));
    }
    return {};
  });
}

Result<std::optional<Incident>> SqliteIncidentStore::find_incident(const std::string& id) {
  return database_.read_returning<std::optional<Incident>>(
      [&](SqliteConnection& connection) -> Result<std::optional<Incident>> {
        auto select = connection.prepare("SELECT " + std::string(kIncidentColumns) + " FROM incidents WHERE id = ?1");
        if (!select.ok()) return select.take_error();
        select->bind_text(1, id);
        Result<bool> row = select->step("reading an incident");
        if (!row.ok()) return row.take_error();
        if (!*row) return std::optional<Incident>{};
        return std::optional<Incident>(read_incident(*select));
      });
}

Result<std::vector<Incident>> SqliteIncidentStore::list_incidents(int limit) {
  return database_.read_returning<std::vector<Incident>>(
      [&](SqliteConnection& connection) -> Result<std::vector<Incident>> {
        auto select = connection.prepare("SELECT " + std::string(kIncidentColumns) +
                                         " FROM incidents ORDER BY created_at DESC, id LIMIT ?1");
        if (!select.ok()) return select.take_error();
        select->bind_int64(1, limit);
        std::vector<Incident> out;
        for (;;) {
          Result<bool> row = select->step("listing incidents");
          if (!row.ok()) return row.take_error();
          if (!*row) break;
          out.push_back(read_incident(*select));
        }
        return out;
      });
}

Status SqliteIncidentStore::transition(const std::string& id, const std::string& from, const std::string& to,
                                       const std::string& approved_by, EpochMillis at) {
  return database_.write([&](SqliteConnection& connection) -> Status {
    auto update = connection.prepare(
        "UPDATE incidents SET state = ?3, "
        "approved_by = CASE WHEN ?3 = 'approved' THEN ?4 ELSE approved_by END, "
        "approved_at = CASE WHEN ?3 = 'approved' THEN ?5 ELSE approved_at END, "
        "started_at = CASE WHEN ?3 = 'running' AND started_at = 0 THEN ?5 ELSE started_at END, "
        "completed_at = CASE WHEN ?3 IN ('completed', 'cancelled') THEN ?5 ELSE completed_at END "
        "WHERE id = ?1 AND state = ?2");
    if (!update.ok()) return update.take_error();
    update->bind_text(1, id);
    update->bind_text(2, from);
    update->bind_text(3, to);
    update->bind_text(4, approved_by);
    update->bind_int64(5, at);
    Result<int> changed = update->run("changing an incident's state");
    if (!changed.ok()) return changed.take_error();
    if (*changed == 0) return make_error(ErrorCode::kConflict, "the incident is not " + from);
    return {};
  });
}

Result<std::vector<IncidentTarget>> SqliteIncidentStore::select_targets(std::string_view sql, const std::string& id,
                                                                       int limit) {
  return database_.read_returning<std::vector<IncidentTarget>>(
      [&](SqliteConnection& connection) -> Result<std::vector<IncidentTarget>> {
        auto select = connection.prepare(sql);
        if (!select.ok()) return select.take_error();
        select->bind_text(1, id);
        select->bind_int64(2, limit);
        std::vector<IncidentTarget> out;
        for (;;) {
          Result<bool> row = select->step("reading incident targets");
          if (!row.ok()) return row.take_error();
          if (!*row) break;
          out.push_back(read_target(*select));
        }
        return out;
      });
}

Result<std::vector<IncidentTarget>> SqliteIncidentStore::pending_unregistration(const std::string& id, int limit) {
  return select_targets("SELECT " + std::string(kTargetColumns) +
                            " FROM incident_targets t WHERE t.incident_id = ?1 AND t.has_account = 1 AND "
                            "t.unregistered_at = 0 ORDER BY t.number LIMIT ?2",
                        id, limit);
}

Result<std::vector<IncidentTarget>> SqliteIncidentStore::pending_notification(const std::string& id, int limit) {
  return select_targets("SELECT " + std::string(kTargetColumns) +
                            " FROM incident_targets t WHERE t.incident_id = ?1 AND t.unregistered_at > 0 AND "
                            "t.notified_at = 0 ORDER BY t.number LIMIT ?2",
                        id, limit);
}

Result<std::vector<IncidentTarget>> SqliteIncidentStore::failed_targets(const std::string& id, int limit) {
  return select_targets("SELECT " + std::string(kTargetColumns) +
                            " FROM incident_targets t WHERE t.incident_id = ?1 AND t.has_account = 1 AND "
                            "t.notified_at = 0 AND t.last_error != '' ORDER BY t.number LIMIT ?2",
                        id, limit);
}

Status SqliteIncidentStore::unregister_targets(const std::string& id, const std::vector<IncidentTarget>& targets,
                                               EpochMillis at) {
  return database_.write([&](SqliteConnection& connection) -> Status {
    for (const IncidentTarget& t : targets) {
      auto bind_uuid = [&](SqliteStatement& s) { s.bind_text(1, t.uuid); };
      LK_RETURN_IF_ERROR(run_bound(connection, "DELETE FROM devices WHERE account_uuid = ?1",
                                   "removing an account's devices", bind_uuid));
      LK_RETURN_IF_ERROR(run_bound(connection, "DELETE FROM device_link_codes WHERE account_uuid = ?1",
                                   "removing device link codes", bind_uuid));
      LK_RETURN_IF_ERROR(run_bound(
          connection,
          "UPDATE accounts SET identity_key = NULL, recovery_password_record = NULL, registration_lock_record = "
          "CASE WHEN ?2 = 1 THEN NULL ELSE registration_lock_record END WHERE uuid = ?1",
          "resetting an account", [&](SqliteStatement& s) {
            s.bind_text(1, t.uuid);
            s.bind_int64(2, t.registered_in_window ? 1 : 0);
          }));
      LK_RETURN_IF_ERROR(run_bound(
          connection,
          "UPDATE incident_targets SET unregistered_at = ?3 WHERE incident_id = ?1 AND number = ?2 AND "
          "unregistered_at = 0",
          "marking a target unregistered", [&](SqliteStatement& s) {
            s.bind_text(1, id);
            s.bind_text(2, t.number);
            s.bind_int64(3, at);
          }));
    }
    return {};
  });
}

Status SqliteIncidentStore::mark_notified(const std::string& id, const std::string& number, EpochMillis at,
                                          const std::string& provider, const std::string& message_id) {
  return database_.write([&](SqliteConnection& connection) -> Status {
    return run_bound(connection,
                     "UPDATE incident_targets SET notified_at = ?3, notify_provider = ?4, notify_message_id = ?5, "
                     "last_error = '' WHERE incident_id = ?1 AND number = ?2 AND notified_at = 0",
                     "marking a target notified", [&](SqliteStatement& s) {
                       s.bind_text(1, id);
                       s.bind_text(2, number);
                       s.bind_int64(3, at);
                       s.bind_text(4, provider);
                       s.bind_text(5, message_id);
                     });
  });
}

Status SqliteIncidentStore::mark_failed(const std::string& id, const std::string& number, const std::string& error) {
  return database_.write([&](SqliteConnection& connection) -> Status {
    return run_bound(connection,
                     "UPDATE incident_targets SET last_error = ?3 WHERE incident_id = ?1 AND number = ?2",
                     "recording a notification failure", [&](SqliteStatement& s) {
                       s.bind_text(1, id);
                       s.bind_text(2, number);
                       s.bind_text(3, error);
                     });
  });
}

Result<IncidentCounts> SqliteIncidentStore::counts(const std::string& id) {
  return database_.read_returning<IncidentCounts>([&](SqliteConnection& connection) -> Result<IncidentCounts> {
    auto select = connection.prepare(
        "SELECT count(*), coalesce(sum(has_account), 0), coalesce(sum(registered_in_window), 0), "
        "coalesce(sum(has_registration_lock), 0), coalesce(sum(unregistered_at > 0), 0), "
        "coalesce(sum(notified_at > 0), 0), "
        "coalesce(sum(has_account = 1 AND notified_at = 0 AND last_error != ''), 0), "
        "coalesce(sum(unregistered_at > 0 AND EXISTS (SELECT 1 FROM registration_log r WHERE r.number = "
        "incident_targets.number AND r.at > incident_targets.unregistered_at)), 0) "
        "FROM incident_targets WHERE incident_id = ?1");
    if (!select.ok()) return select.take_error();
    select->bind_text(1, id);
    Result<bool> row = select->step("counting incident targets");
    if (!row.ok()) return row.take_error();
    IncidentCounts c;
    c.targets = select->column_int64(0);
    c.with_account = select->column_int64(1);
    c.registered_in_window = select->column_int64(2);
    c.with_registration_lock = select->column_int64(3);
    c.unregistered = select->column_int64(4);
    c.notified = select->column_int64(5);
    c.failed = select->column_int64(6);
    c.reregistered = select->column_int64(7);
    return c;
  });
}

Result<std::vector<IncidentTarget>> SqliteIncidentStore::targets(const std::string& id) {
  return database_.read_returning<std::vector<IncidentTarget>>(
      [&](SqliteConnection& connection) -> Result<std::vector<IncidentTarget>> {
        auto select = connection.prepare(
            "SELECT " + std::string(kTargetColumns) +
            ", (SELECT min(r.at) FROM registration_log r WHERE r.number = t.number AND t.unregistered_at > 0 AND "
            "r.at > t.unregistered_at) FROM incident_targets t WHERE t.incident_id = ?1 ORDER BY t.number");
        if (!select.ok()) return select.take_error();
        select->bind_text(1, id);
        std::vector<IncidentTarget> out;
        for (;;) {
          Result<bool> row = select->step("reading incident targets");
          if (!row.ok()) return row.take_error();
          if (!*row) break;
          IncidentTarget t = read_target(*select);
          t.reregistered_at = select->column_int64(11);
          out.push_back(std::move(t));
        }
        return out;
      });
}

}  // namespace latchkey
