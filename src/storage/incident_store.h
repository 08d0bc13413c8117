// Durable state of incident response (incidents/incident_service.h): the registration log (which provider's
// code completed each registration), compromised providers, incidents and their per-number targets. Every step
// of an incident's execution is recorded per target, so a crash loses nothing and a re-run repeats nothing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/error.h"

namespace latchkey {

struct RegistrationLogEntry {
  std::string number;
  std::string uuid;
  EpochMillis at = 0;
  std::string provider;               // delivered the code that verified the session; "" without SMS
  bool replaced_existing = false;
  EpochMillis account_created_at = 0;
};

struct ProviderCompromise {
  std::string provider;
  EpochMillis breach_started_at = 0;
  EpochMillis marked_at = 0;
  std::string marked_by;  // audit actor
  std::string note;
};

struct Incident {
  std::string id;
  std::string description;
  std::string source;            // "report" or "provider"
  std::string provider;          // the compromised provider, if known: never used to notify
  EpochMillis window_start = 0;
  EpochMillis window_end = 0;
  std::string state;             // "draft", "approved", "running", "completed", "cancelled"
  std::string created_by;
  EpochMillis created_at = 0;
  std::string approved_by;
  EpochMillis approved_at = 0;
  EpochMillis started_at = 0;
  EpochMillis completed_at = 0;
};

struct IncidentTarget {
  std::string number;
  std::string uuid;                    // "" without an account
  bool has_account = false;
  bool registered_in_window = false;   // the number (re-)registered during the incident window
  bool has_registration_lock = false;
  std::string language;
  EpochMillis unregistered_at = 0;
  EpochMillis notified_at = 0;
  std::string notify_provider;
  std::string notify_message_id;
  std::string last_error;
  EpochMillis reregistered_at = 0;     // filled by targets(): first registration after unregistered_at, or 0
};

struct IncidentCounts {
  std::int64_t targets = 0;
  std::int64_t with_account = 0;
  std::int64_t registered_in_window = 0;
  std::int64_t with_registration_lock = 0;
  std::int64_t unregistered = 0;
  std::int64_t notified = 0;
  std::int64_t failed = 0;             // with an account, not notified, with an error recorded
  std::int64_t reregistered = 0;
};

// Thread-safe; every call may block on storage (worker threads only).
class IncidentStore {
 public:
  virtual ~IncidentStore() = default;

  // The registration log is written by AccountStore::create_or_replace, in the registration's transaction.
  // Registrations whose code came through `provider` at or after `since`, newest first, at most `limit`.
  virtual Result<std::vector<RegistrationLogEntry>> registrations_through(const std::string& provider,
                                                                         EpochMillis since, int limit) = 0;

  virtual Status put_compromise(const ProviderCompromise& compromise) = 0;  // replaces an earlier mark
  virtual Status delete_compromise(const std::string& provider) = 0;
  virtual Result<std::vector<ProviderCompromise>> compromises() = 0;

  // In one transaction: stores the incident (state "draft") and one target per number, each with its impact
  // computed from accounts and the registration log (window inclusive), and `language_for(number)`.
  virtual Status create_incident(const Incident& incident, const std::vector<std::string>& numbers,
                                 const std::vector<std::string>& languages) = 0;
  virtual Result<std::optional<Incident>> find_incident(const std::string& id) = 0;
  virtual Result<std::vector<Incident>> list_incidents(int limit) = 0;
  // Moves the incident from state `from` to `to`, setting the given fields. kConflict if it is not in `from`.
  virtual Status transition(const std::string& id, const std::string& from, const std::string& to,
                            const std::string& approved_by, EpochMillis at) = 0;

  // Targets with an account not yet unregistered, at most `limit`.
  virtual Result<std::vector<IncidentTarget>> pending_unregistration(const std::string& id, int limit) = 0;
  // In one transaction: removes every device of each target's account (credentials, keys and queued envelopes
  // go with them), clears its identity key, device link codes and registration recovery password, clears the
  // Registration Lock of accounts registered in the window (it may be the attacker's), and marks the targets
  // unregistered at `at`.
  virtual Status unregister_targets(const std::string& id, const std::vector<IncidentTarget>& targets,
                                    EpochMillis at) = 0;
  // Unregistered targets not yet notified, at most `limit`.
  virtual Result<std::vector<IncidentTarget>> pending_notification(const std::string& id, int limit) = 0;
  virtual Status mark_notified(const std::string& id, const std::string& number, EpochMillis at,
                               const std::string& provider, const std::string& message_id) = 0;
  virtual Status mark_failed(const std::string& id, const std::string& number, const std::string& error) = 0;
  // Targets counted as failed (with an account, not notified, an error recorded), at most `limit`.
  virtual Result<std::vector<IncidentTarget>> failed_targets(const std::string& id, int limit) = 0;

  virtual Result<IncidentCounts> counts(const std::string& id) = 0;
  virtual Result<std::vector<IncidentTarget>> targets(const std::string& id) = 0;
};

}  // namespace latchkey
