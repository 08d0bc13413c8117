#include "alerts/alert_engine.h"

#include <gtest/gtest.h>

namespace latchkey {
namespace {

// Canned answers for the rules; each test sets what the storage would count.
class CannedQueries final : public AlertQueries {
 public:
  std::vector<StaffLookupCount> lookups;
  std::int64_t reregistrations = 0;
  std::vector<KeyedCount> unverified;
  std::vector<KeyedCount> providers;
  bool fail = false;

  Result<std::vector<StaffLookupCount>> staff_lookups(EpochMillis) override {
    if (fail) return make_error(ErrorCode::kUnavailable, "down");
    return lookups;
  }
  Result<std::int64_t> established_reregistrations(EpochMillis, std::int64_t) override {
    if (fail) return make_error(ErrorCode::kUnavailable, "down");
    return reregistrations;
  }
  Result<std::vector<KeyedCount>> unverified_codes_by_prefix(EpochMillis) override {
    if (fail) return make_error(ErrorCode::kUnavailable, "down");
    return unverified;
  }
  Result<std::vector<KeyedCount>> registrations_by_provider(EpochMillis) override {
    if (fail) return make_error(ErrorCode::kUnavailable, "down");
    return providers;
  }
};

class AlertEngineTest : public ::testing::Test {
 protected:
  AlertEngineTest() : clock_(1'000'000'000), engine_(config_, queries_, clock_, metrics_) {}

  std::vector<std::string> rules() {
    std::vector<std::string> out;
    for (const auto& a : engine_.active()) out.push_back(a.rule + (a.subject.empty() ? "" : ":" + a.subject));
    return out;
  }
  std::int64_t gauge(const std::string& rule) {
    return metrics_.gauge("latchkey_alerts_active", "Anomaly alerts raised now, by rule", {{"rule", rule}}).value();
  }

  AlertsConfig config_;
  CannedQueries queries_;
  ManualClock clock_;
  MetricsRegistry metrics_;
  AlertEngine engine_;
};

TEST_F(AlertEngineTest, QuietCountsRaiseNothing) {
  queries_.lookups = {{"staff:a", config_.staff_lookups_threshold, 0}};
  queries_.reregistrations = config_.reregistrations_threshold;
  queries_.unverified = {{"33", config_.unverified_codes_per_prefix_threshold}};
  engine_.evaluate();
  EXPECT_TRUE(engine_.active().empty());
}

TEST_F(AlertEngineTest, EachRuleRaisesAboveItsThresholdAndClears) {
  queries_.lookups = {{"staff:a", config_.staff_lookups_threshold + 1, config_.staff_lookups_without_case_threshold + 1},
                      {"staff:b", 1, 0}};
  queries_.reregistrations = config_.reregistrations_threshold + 1;
  queries_.unverified = {{"33", 1}, {"998", config_.unverified_codes_per_prefix_threshold + 1}};
  queries_.providers = {{"phished", 90}, {"other", 10}};
  engine_.evaluate();
  EXPECT_EQ(rules(), (std::vector<std::string>{"staff_lookups:staff:a", "staff_lookups_without_case:staff:a",
                                               "established_reregistrations", "unverified_codes:+998",
                                               "provider_share:phished"}));
  EXPECT_EQ(gauge("staff_lookups"), 1);
  EXPECT_EQ(gauge("provider_share"), 1);
  EXPECT_EQ(metrics_.counter("latchkey_alerts_raised_total", "", {{"rule", "unverified_codes"}}).value(), 1u);

  // Still raised on the next evaluation: first_seen kept, counted once.
  const EpochMillis first = engine_.active()[0].first_seen;
  clock_.advance(std::chrono::seconds(30));
  engine_.evaluate();
  EXPECT_EQ(engine_.active()[0].first_seen, first);
  EXPECT_EQ(engine_.active()[0].last_seen, first + 30'000);
  EXPECT_EQ(metrics_.counter("latchkey_alerts_raised_total", "", {{"rule", "unverified_codes"}}).value(), 1u);

  queries_ = CannedQueries{};
  engine_.evaluate();
  EXPECT_TRUE(engine_.active().empty());
  EXPECT_EQ(gauge("staff_lookups"), 0);
}

TEST_F(AlertEngineTest, ProviderShareNeedsEnoughRegistrations) {
  queries_.providers = {{"only", config_.provider_share_min_registrations - 1}};
  engine_.evaluate();
  EXPECT_TRUE(engine_.active().empty());
  queries_.providers = {{"only", config_.provider_share_min_registrations}};
  engine_.evaluate();
  EXPECT_EQ(rules(), std::vector<std::string>{"provider_share:only"});
}

TEST_F(AlertEngineTest, RegistrationLockFailuresCountOverTheWindow) {
  Counter& failures = metrics_.counter("latchkey_registration_lock_failures_total", "");
  engine_.evaluate();  // baseline sample
  failures.inc(config_.registration_lock_failures_threshold + 1);
  clock_.advance(std::chrono::seconds(30));
  engine_.evaluate();
  EXPECT_EQ(rules(), std::vector<std::string>{"registration_lock_failures"});
  // Once the failures are older than the window, the alert clears.
  clock_.advance(config_.window + std::chrono::seconds(30));
  engine_.evaluate();
  clock_.advance(std::chrono::seconds(30));
  engine_.evaluate();
  EXPECT_TRUE(engine_.active().empty());
}

TEST_F(AlertEngineTest, AFailingQueryKeepsThatRulesAlerts) {
  queries_.reregistrations = config_.reregistrations_threshold + 5;
  engine_.evaluate();
  ASSERT_EQ(engine_.active().size(), 1u);
  queries_.fail = true;
  engine_.evaluate();
  EXPECT_EQ(rules(), std::vector<std::string>{"established_reregistrations"});
  auto json = engine_.to_json();
  EXPECT_EQ(json["alerts"].size(), 1u);
  EXPECT_EQ(json["rules"].size(), 6u);
}

}  // namespace
}  // namespace latchkey
