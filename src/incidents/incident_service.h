// Provider compromise and the incident playbook (docs/operations.md, "Incident playbook").
//
// Marking a provider compromised stops routing through it at once, ends every open verification session whose
// code went through it, and lists the registrations completed with its codes since the breach began (suspects).
// An incident lists the affected numbers (from the provider's breach report, or from the suspects) with their
// impact. A second staff member approves it (two-person rule); executing it then, for every affected number with
// an account: removes every device (credentials, keys and queued envelopes; open sockets closed with 4401),
// clears the registration recovery password (and the Registration Lock if the number was registered in the
// window), so a fresh SMS registration is needed; then sends each user a notification in their language through
// a provider other than the compromised ones. Each step is recorded per number, so an interrupted run resumes
// where it stopped (also after a crash: running incidents resume on start) and a re-run notifies nobody twice.
#pragma once

#include <atomic>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "audit/audit_log.h"
#include "core/clock.h"
#include "core/config.h"
#include "crypto/random.h"
#include "metrics/metrics.h"
#include "sms/sms_router.h"
#include "staff/staff_authorizer.h"
#include "storage/incident_store.h"
#include "storage/verification_session_store.h"

namespace latchkey {

struct IncidentProgress {
  Incident incident;
  IncidentCounts counts;
  double notified_per_second = 0;  // since the run started
  std::vector<IncidentTarget> errors;  // the first failed targets (at most 20; counts.failed has them all)
};

// Thread-safe. Blocks on storage (worker threads). Executions run on threads the service owns.
class IncidentService {
 public:
  // Called with the uuid of each account whose devices an execution removed (closes its sockets).
  using UnregisteredListener = std::function<void(const std::string& uuid)>;

  IncidentService(const IncidentsConfig& config, IncidentStore& store, VerificationSessionStore& sessions,
                  SmsRouter& sms, AuditLog& audit, const Clock& clock, Random& random, MetricsRegistry& metrics);
  ~IncidentService();  // waits for executions in progress

  void set_unregistered_listener(UnregisteredListener listener) { unregistered_ = std::move(listener); }

  // On start: providers marked compromised stay disabled; incidents left running resume in the background.
  Status resume();

  // ---- providers ----
  // [{"name","enabled","compromised","breachStartedAt","markedAt","markedBy","note"}]
  Result<nlohmann::json> providers();
  // Errors: kNotFound (no such provider), kMalformedRequest (breach time in the future or before 2000).
  // Answers {"invalidatedSessions", "suspects"}.
  Result<nlohmann::json> mark_compromised(const StaffPrincipal& by, const std::string& provider,
                                          EpochMillis breach_started_at, const std::string& note);
  Status restore_provider(const StaffPrincipal& by, const std::string& provider);
  // Registrations through the provider since its breach began (kNotFound if it is not marked compromised).
  Result<std::vector<RegistrationLogEntry>> suspects(const std::string& provider);

  // ---- incidents ----
  // From a breach report. `problems` receives the report lines that were skipped. Errors: kMalformedRequest
  // (description, window, report).
  Result<Incident> create_from_report(const StaffPrincipal& by, const std::string& description,
                                      EpochMillis window_start, EpochMillis window_end, const std::string& format,
                                      const std::string& content, std::vector<std::string>* problems);
  // From a compromised provider's suspects (window: breach start to now). kNotFound if not compromised,
  // kMalformedRequest if it has no suspects.
  Result<Incident> create_from_provider(const StaffPrincipal& by, const std::string& description,
                                        const std::string& provider);
  Result<std::vector<Incident>> list();
  Result<IncidentProgress> progress(const std::string& id);
  Result<std::vector<IncidentTarget>> targets(const std::string& id);
  // Two-person rule: kForbidden when `by` created it. kConflict unless it is a draft.
  Status approve(const StaffPrincipal& by, const std::string& id);
  // Starts (or re-runs) an approved or completed incident in the background. kConflict otherwise.
  Status execute(const StaffPrincipal& by, const std::string& id);
  Status cancel(const StaffPrincipal& by, const std::string& id);
  // Audits an export of the report.
  Status audit_export(const StaffPrincipal& by, const std::string& id, const std::string& format);

  // Runs an execution to the end on the calling thread (what execute() runs in the background; for tests and
  // benchmarks). The incident must be running.
  Status run(const std::string& id);

 private:
  Result<Incident> create(const StaffPrincipal& by, Incident incident, const std::vector<std::string>& numbers);
  void start_background(const std::string& id);
  std::vector<std::string> excluded_providers(const Incident& incident);
  Status unregister_all(const Incident& incident);
  Status notify_all(const Incident& incident);

  const IncidentsConfig& config_;
  IncidentStore& store_;
  VerificationSessionStore& sessions_;
  SmsRouter& sms_;
  AuditLog& audit_;
  const Clock& clock_;
  Random& random_;
  MetricsRegistry& metrics_;
  UnregisteredListener unregistered_;

  std::mutex mutex_;
  std::set<std::string> running_;     // guarded by mutex_
  std::vector<std::thread> threads_;  // guarded by mutex_
};

}  // namespace latchkey
