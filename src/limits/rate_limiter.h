// Token-bucket rate limits. Each named limit (Limit) has its own buckets keyed by a number, an IP address or a
// country calling code. This implementation keeps buckets in this process's memory; a Redis-backed
// implementation of RateLimiter follows with scale-out (docs/operations.md).
#pragma once

#include <array>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "metrics/metrics.h"

namespace latchkey {

struct LimitDecision {
  bool allowed = true;
  std::chrono::seconds retry_after{0};  // when refused: time until a token is back (at least 1 s)
};

// Thread-safe.
class RateLimiter {
 public:
  virtual ~RateLimiter() = default;
  // Takes one token from the bucket of `key`, or says how long until one is available.
  virtual LimitDecision try_acquire(std::string_view key, EpochMillis now) = 0;
};

// In-memory token buckets, sharded by key hash with one mutex per shard. At most `max_keys` buckets are kept:
// full buckets are forgotten first (a full bucket is the same as none); if that is not enough the oldest
// entries of the shard are dropped, which can only make the limit more lenient, never lock anyone out.
class TokenBucketLimiter final : public RateLimiter {
 public:
  TokenBucketLimiter(BucketConfig config, std::size_t max_keys);
  LimitDecision try_acquire(std::string_view key, EpochMillis now) override;

 private:
  struct Bucket {
    double tokens = 0;
    EpochMillis updated_at = 0;
  };
  struct Shard {
    std::mutex mutex;
    std::unordered_map<std::string, Bucket> buckets;  // guarded by mutex
  };
  static constexpr std::size_t kShards = 16;
  double refilled(const Bucket& b, EpochMillis now) const;
  void evict(Shard& shard, EpochMillis now);

  const BucketConfig config_;
  const std::size_t max_keys_per_shard_;
  std::array<Shard, kShards> shards_;
};

// Every limit the server enforces, by name.
enum class Limit {
  kSessionCreatePerNumber,
  kSessionCreatePerIp,
  kCodeSendPerNumber,
  kCodeSendPerIp,
  kCodeSendPerPrefix,
  kCodeCheckPerNumber,
  kRegistrationPerNumber,
  kRegistrationLockPerNumber,
  kKeysUploadPerDevice,
  kPrekeyLookupPerRequester,
  kDirectoryPerRequester,
  kDirectoryPerTarget,
  kDeviceLinkPerIp,
  kProvisioningPerAccount,
  kMessagesPerSender,
};

const char* limit_name(Limit limit);  // "session_create_per_number", ... as in the [limits] config table

// The set of limits configured by [limits]. Thread-safe.
class Limits {
 public:
  Limits(const LimitsConfig& config, MetricsRegistry& metrics);
  // Replaces one limit's implementation (for a shared Redis limiter or tests).
  void set_limiter(Limit limit, std::unique_ptr<RateLimiter> limiter);

  // Takes a token. kRateLimited with retry_after when refused; counts latchkey_limiter_rejections_total{limit}.
  Status check(Limit limit, std::string_view key, EpochMillis now);

 private:
  static constexpr std::size_t kCount = 15;
  std::array<std::unique_ptr<RateLimiter>, kCount> limiters_;
  std::array<Counter*, kCount> rejections_{};
};

}  // namespace latchkey
