#include "alerts/alert_engine.h"

#include <fmt/format.h>

#include "core/logging.h"

namespace latchkey {
namespace {

constexpr const char* kRules[] = {"staff_lookups",      "staff_lookups_without_case", "established_reregistrations",
                                  "registration_lock_failures", "unverified_codes",   "provider_share"};

std::int64_t millis(Duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

}  // namespace

AlertEngine::AlertEngine(const AlertsConfig& config, AlertQueries& queries, const Clock& clock,
                         MetricsRegistry& metrics)
    : config_(config),
      queries_(queries),
      clock_(clock),
      metrics_(metrics),
      lock_failures_(metrics.counter("latchkey_registration_lock_failures_total",
                                     "Registrations refused by Registration Lock")) {
  for (const char* rule : kRules)
    metrics_.gauge("latchkey_alerts_active", "Anomaly alerts raised now, by rule", {{"rule", rule}}).set(0);
}

void AlertEngine::raise(std::vector<Alert>& next, Alert alert, EpochMillis now) {
  alert.first_seen = now;
  alert.last_seen = now;
  next.push_back(std::move(alert));
}

void AlertEngine::evaluate() {
  const EpochMillis now = clock_.now_ms();
  const EpochMillis since = now - millis(config_.window);
  std::vector<Alert> next;
  std::vector<std::string> failed_rules;  // their previous alerts are kept as they were
  auto failed = [&](const char* rule, const Error& error) {
    failed_rules.emplace_back(rule);
    log::warn("alert_rule_failed", {{"rule", rule}, {"reason", error.message}});
  };

  if (auto lookups = queries_.staff_lookups(since); lookups.ok()) {
    for (const auto& l : *lookups) {
      if (l.lookups > config_.staff_lookups_threshold)
        raise(next,
              {"staff_lookups", l.actor, double(l.lookups), double(config_.staff_lookups_threshold),
               fmt::format("{} looked up {} accounts in the last {} s", l.actor, l.lookups, millis(config_.window) / 1000)},
              now);
      if (l.without_case > config_.staff_lookups_without_case_threshold)
        raise(next,
              {"staff_lookups_without_case", l.actor, double(l.without_case),
               double(config_.staff_lookups_without_case_threshold),
               fmt::format("{} looked up {} accounts without a support case", l.actor, l.without_case)},
              now);
    }
  } else {
    failed("staff_lookups", lookups.error());
    failed_rules.emplace_back("staff_lookups_without_case");
  }

  if (auto count = queries_.established_reregistrations(since, millis(config_.established_account_age)); count.ok()) {
    if (*count > config_.reregistrations_threshold)
      raise(next,
            {"established_reregistrations", "", double(*count), double(config_.reregistrations_threshold),
             fmt::format("{} established accounts were re-registered in the window", *count)},
            now);
  } else {
    failed("established_reregistrations", count.error());
  }

  {
    std::lock_guard lock(mutex_);
    samples_.emplace_back(now, lock_failures_.value());
    while (samples_.size() > 1 && samples_[1].first <= since) samples_.pop_front();
    const std::uint64_t delta = samples_.back().second - samples_.front().second;
    if (delta > static_cast<std::uint64_t>(config_.registration_lock_failures_threshold))
      raise(next,
            {"registration_lock_failures", "", double(delta), double(config_.registration_lock_failures_threshold),
             fmt::format("{} Registration Lock failures in the window", delta)},
            now);
  }

  if (auto prefixes = queries_.unverified_codes_by_prefix(since); prefixes.ok()) {
    for (const auto& p : *prefixes)
      if (p.count > config_.unverified_codes_per_prefix_threshold)
        raise(next,
              {"unverified_codes", "+" + p.key, double(p.count), double(config_.unverified_codes_per_prefix_threshold),
               fmt::format("{} codes sent to +{} were never verified (SMS pumping?)", p.count, p.key)},
              now);
  } else {
    failed("unverified_codes", prefixes.error());
  }

  if (auto providers = queries_.registrations_by_provider(since); providers.ok()) {
    std::int64_t total = 0;
    for (const auto& p : *providers) total += p.count;
    if (total >= config_.provider_share_min_registrations) {
      for (const auto& p : *providers) {
        const double share = double(p.count) / double(total);
        if (!p.key.empty() && share > config_.provider_share_threshold)
          raise(next,
                {"provider_share", p.key, share, config_.provider_share_threshold,
                 fmt::format("{} delivered the codes of {:.0f}% of {} registrations", p.key, share * 100, total)},
                now);
      }
    }
  } else {
    failed("provider_share", providers.error());
  }

  std::lock_guard lock(mutex_);
  for (Alert& alert : next) {
    bool known = false;
    for (const Alert& old : active_) {
      if (old.rule == alert.rule && old.subject == alert.subject) {
        alert.first_seen = old.first_seen;
        known = true;
      }
    }
    if (!known) {
      metrics_.counter("latchkey_alerts_raised_total", "Anomaly alerts raised, by rule", {{"rule", alert.rule}}).inc();
      log::warn("alert_raised", {{"rule", alert.rule}, {"subject", alert.subject}, {"message", alert.message}});
    }
  }
  for (const Alert& old : active_)
    for (const auto& rule : failed_rules)
      if (old.rule == rule) next.push_back(old);
  active_ = std::move(next);
  for (const char* rule : kRules) {
    std::int64_t n = 0;
    for (const Alert& a : active_) n += a.rule == rule;
    metrics_.gauge("latchkey_alerts_active", "Anomaly alerts raised now, by rule", {{"rule", rule}}).set(n);
  }
}

std::vector<Alert> AlertEngine::active() const {
  std::lock_guard lock(mutex_);
  return active_;
}

nlohmann::json AlertEngine::to_json() const {
  nlohmann::json alerts = nlohmann::json::array();
  for (const Alert& a : active())
    alerts.push_back({{"rule", a.rule},
                      {"subject", a.subject},
                      {"value", a.value},
                      {"threshold", a.threshold},
                      {"message", a.message},
                      {"firstSeen", a.first_seen},
                      {"lastSeen", a.last_seen}});
  const std::int64_t window = millis(config_.window);
  nlohmann::json rules = nlohmann::json::array({
      {{"rule", "staff_lookups"}, {"threshold", config_.staff_lookups_threshold}, {"window", window}},
      {{"rule", "staff_lookups_without_case"}, {"threshold", config_.staff_lookups_without_case_threshold}, {"window", window}},
      {{"rule", "established_reregistrations"}, {"threshold", config_.reregistrations_threshold}, {"window", window}},
      {{"rule", "registration_lock_failures"}, {"threshold", config_.registration_lock_failures_threshold}, {"window", window}},
      {{"rule", "unverified_codes"}, {"threshold", config_.unverified_codes_per_prefix_threshold}, {"window", window}},
      {{"rule", "provider_share"}, {"threshold", config_.provider_share_threshold}, {"window", window}},
  });
  return {{"alerts", alerts}, {"rules", rules}};
}

}  // namespace latchkey
