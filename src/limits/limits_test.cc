#include <gtest/gtest.h>

#include "limits/rate_limiter.h"
#include "limits/sms_pumping_breaker.h"

namespace latchkey {
namespace {

TEST(TokenBucketTest, AllowsBurstThenRefills) {
  TokenBucketLimiter limiter({3, std::chrono::seconds(10)}, 1000);
  EpochMillis t = 1'000'000;
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(limiter.try_acquire("k", t).allowed);
  auto d = limiter.try_acquire("k", t);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, std::chrono::seconds(10));
  EXPECT_TRUE(limiter.try_acquire("other", t).allowed);  // keys are independent
  EXPECT_FALSE(limiter.try_acquire("k", t + 9'000).allowed);
  EXPECT_TRUE(limiter.try_acquire("k", t + 10'000).allowed);
}

TEST(TokenBucketTest, RetryAfterIsAtLeastOneSecond) {
  TokenBucketLimiter limiter({1, std::chrono::milliseconds(10)}, 1000);
  EXPECT_TRUE(limiter.try_acquire("k", 0).allowed);
  auto d = limiter.try_acquire("k", 0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, std::chrono::seconds(1));
}

TEST(TokenBucketTest, EvictionNeverLocksOut) {
  TokenBucketLimiter limiter({1, std::chrono::hours(1)}, 1000);
  for (int i = 0; i < 5000; ++i) limiter.try_acquire("k" + std::to_string(i), i);
  // Memory stays bounded and a fresh key still gets its burst.
  EXPECT_TRUE(limiter.try_acquire("fresh", 6000).allowed);
}

TEST(LimitsTest, RefusalIsRateLimitedWithRetryAfter) {
  MetricsRegistry metrics;
  LimitsConfig config;
  config.code_check_per_number = {1, std::chrono::seconds(30)};
  Limits limits(config, metrics);
  EXPECT_TRUE(limits.check(Limit::kCodeCheckPerNumber, "+33612345678", 0).ok());
  Status s = limits.check(Limit::kCodeCheckPerNumber, "+33612345678", 0);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.error().code, ErrorCode::kRateLimited);
  EXPECT_EQ(s.error().retry_after, std::chrono::seconds(30));
  EXPECT_NE(metrics.render().find("latchkey_limiter_rejections_total{limit=\"code_check_per_number\"} 1"),
            std::string::npos);
}

TEST(SmsPumpingBreakerTest, TripsOnLowVerifiedRatioAndRecovers) {
  MetricsRegistry metrics;
  SmsPumpingConfig config;
  config.min_sent = 10;
  config.min_verified_ratio = 0.5;
  config.pause = std::chrono::minutes(15);
  SmsPumpingBreaker breaker(config, metrics);
  EpochMillis t = 10'000'000;
  for (int i = 0; i < 9; ++i) breaker.record_sent("99", t);
  EXPECT_FALSE(breaker.paused_for("99", t));
  breaker.record_sent("99", t);  // 10 sent, 0 verified
  auto paused = breaker.paused_for("99", t);
  ASSERT_TRUE(paused);
  EXPECT_EQ(*paused, std::chrono::minutes(15));
  EXPECT_FALSE(breaker.paused_for("33", t));  // other prefixes unaffected
  EXPECT_FALSE(breaker.paused_for("99", t + 15 * 60'000));
}

TEST(SmsPumpingBreakerTest, HealthyRatioNeverTrips) {
  MetricsRegistry metrics;
  SmsPumpingConfig config;
  config.min_sent = 10;
  config.min_verified_ratio = 0.5;
  SmsPumpingBreaker breaker(config, metrics);
  for (int i = 0; i < 100; ++i) {
    breaker.record_sent("33", i * 1000);
    breaker.record_verified("33", i * 1000);
  }
  EXPECT_FALSE(breaker.paused_for("33", 100'000));
}

}  // namespace
}  // namespace latchkey
