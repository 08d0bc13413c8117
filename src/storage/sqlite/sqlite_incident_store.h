// IncidentStore on a SqliteDatabase (tables of migration 8).
#pragma once

#include "storage/incident_store.h"
#include "storage/sqlite/sqlite_database.h"

namespace latchkey {

class SqliteIncidentStore final : public IncidentStore {
 public:
  explicit SqliteIncidentStore(SqliteDatabase& database) : database_(database) {}

  Result<std::vector<RegistrationLogEntry>> registrations_through(const std::string& provider, EpochMillis since,
                                                                 int limit) override;
  Status put_compromise(const ProviderCompromise& compromise) override;
  Status delete_compromise(const std::string& provider) override;
  Result<std::vector<ProviderCompromise>> compromises() override;
  Status create_incident(const Incident& incident, const std::vector<std::string>& numbers,
                         const std::vector<std::string>& languages) override;
  Result<std::optional<Incident>> find_incident(const std::string& id) override;
  Result<std::vector<Incident>> list_incidents(int limit) override;
  Status transition(const std::string& id, const std::string& from, const std::string& to,
                    const std::string& approved_by, EpochMillis at) override;
  Result<std::vector<IncidentTarget>> pending_unregistration(const std::string& id, int limit) override;
  Status unregister_targets(const std::string& id, const std::vector<IncidentTarget>& targets,
                            EpochMillis at) override;
  Result<std::vector<IncidentTarget>> pending_notification(const std::string& id, int limit) override;
  Status mark_notified(const std::string& id, const std::string& number, EpochMillis at, const std::string& provider,
                       const std::string& message_id) override;
  Status mark_failed(const std::string& id, const std::string& number, const std::string& error) override;
  Result<std::vector<IncidentTarget>> failed_targets(const std::string& id, int limit) override;
  Result<IncidentCounts> counts(const std::string& id) override;
  Result<std::vector<IncidentTarget>> targets(const std::string& id) override;

 private:
  Result<std::vector<IncidentTarget>> select_targets(std::string_view sql, const std::string& id, int limit);
  SqliteDatabase& database_;
};

}  // namespace latchkey
