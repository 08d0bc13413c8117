// Anomaly alerts (docs/operations.md, "Alerts"). Every alerts.evaluation_interval the engine evaluates five
// rules over the last alerts.window and keeps the set of alerts currently raised:
//   staff_lookups               one staff member looked up more than staff_lookups_threshold accounts
//   staff_lookups_without_case  ... more than staff_lookups_without_case_threshold without a support case
//   established_reregistrations re-registrations of accounts older than established_account_age above
//                               reregistrations_threshold
//   registration_lock_failures  failed Registration Lock attempts above registration_lock_failures_threshold
//                               (counted by this process from latchkey_registration_lock_failures_total)
//   unverified_codes            codes sent but never verified for one calling code above
//                               unverified_codes_per_prefix_threshold (SMS pumping)
//   provider_share              one provider delivered the codes of more than provider_share_threshold of the
//                               registrations completed (once there are provider_share_min_registrations)
// A newly raised alert is logged (warn, "alert_raised") and counted (latchkey_alerts_raised_total{rule}); the
// gauge latchkey_alerts_active{rule} holds how many alerts of each rule are raised now. An alert clears when its
// rule no longer holds.
#pragma once

#include <deque>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/config.h"
#include "metrics/metrics.h"
#include "storage/alert_queries.h"

namespace latchkey {

struct Alert {
  std::string rule;
  std::string subject;     // staff actor, calling code or provider; empty for global rules
  double value = 0;
  double threshold = 0;
  std::string message;
  EpochMillis first_seen = 0;
  EpochMillis last_seen = 0;
};

// Thread-safe.
class AlertEngine {
 public:
  AlertEngine(const AlertsConfig& config, AlertQueries& queries, const Clock& clock, MetricsRegistry& metrics);

  // Evaluates every rule now. A query that fails is logged and leaves that rule's alerts as they were.
  void evaluate();

  std::vector<Alert> active() const;

  // {"alerts": [...], "rules": [{"rule","threshold","window"}]} as GET /staff/api/alerts answers.
  nlohmann::json to_json() const;

 private:
  void raise(std::vector<Alert>& next, Alert alert, EpochMillis now);

  const AlertsConfig& config_;
  AlertQueries& queries_;
  const Clock& clock_;
  MetricsRegistry& metrics_;
  Counter& lock_failures_;

  mutable std::mutex mutex_;
  std::vector<Alert> active_;                                  // guarded by mutex_
  std::deque<std::pair<EpochMillis, std::uint64_t>> samples_;  // lock failure counter samples; guarded by mutex_
};

}  // namespace latchkey
