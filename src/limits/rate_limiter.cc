#include "limits/rate_limiter.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

#include <fmt/core.h>

namespace latchkey {

TokenBucketLimiter::TokenBucketLimiter(BucketConfig config, std::size_t max_keys)
    : config_(config), max_keys_per_shard_(std::max<std::size_t>(1, max_keys / kShards)) {}

double TokenBucketLimiter::refilled(const Bucket& b, EpochMillis now) const {
  double elapsed = static_cast<double>(std::max<EpochMillis>(0, now - b.updated_at));
  return std::min<double>(config_.burst, b.tokens + elapsed / static_cast<double>(config_.refill.count()));
}

void TokenBucketLimiter::evict(Shard& shard, EpochMillis now) {
  for (auto it = shard.buckets.begin(); it != shard.buckets.end();) {
    if (refilled(it->second, now) >= config_.burst) it = shard.buckets.erase(it);
    else ++it;
  }
  if (shard.buckets.size() < max_keys_per_shard_) return;
  std::vector<std::pair<EpochMillis, std::string>> by_age;
  by_age.reserve(shard.buckets.size());
  for (const auto& [key, b] : shard.buckets) by_age.emplace_back(b.updated_at, key);
  std::size_t drop = shard.buckets.size() - max_keys_per_shard_ / 2;
  std::nth_element(by_age.begin(), by_age.begin() + drop, by_age.end());
  for (std::size_t i = 0; i < drop; ++i) shard.buckets.erase(by_age[i].second);
}

LimitDecision TokenBucketLimiter::try_acquire(std::string_view key, EpochMillis now) {
  Shard& shard = shards_[std::hash<std::string_view>{}(key) % kShards];
  std::lock_guard lock(shard.mutex);
  auto it = shard.buckets.find(std::string(key));
  if (it == shard.buckets.end()) {
    if (shard.buckets.size() >= max_keys_per_shard_) evict(shard, now);
    it = shard.buckets.emplace(std::string(key), Bucket{static_cast<double>(config_.burst), now}).first;
  }
  Bucket& b = it->second;
  b.tokens = refilled(b, now);
  b.updated_at = now;
  if (b.tokens >= 1.0) {
    b.tokens -= 1.0;
    return {true, std::chrono::seconds(0)};
  }
  double wait_ms = (1.0 - b.tokens) * static_cast<double>(config_.refill.count());
  auto seconds = static_cast<std::int64_t>(std::ceil(wait_ms / 1000.0));
  return {false, std::chrono::seconds(std::max<std::int64_t>(1, seconds))};
}

const char* limit_name(Limit limit) {
  switch (limit) {
    case Limit::kSessionCreatePerNumber: return "session_create_per_number";
    case Limit::kSessionCreatePerIp: return "session_create_per_ip";
    case Limit::kCodeSendPerNumber: return "code_send_per_number";
    case Limit::kCodeSendPerIp: return "code_send_per_ip";
    case Limit::kCodeSendPerPrefix: return "code_send_per_prefix";
    case Limit::kCodeCheckPerNumber: return "code_check_per_number";
    case Limit::kRegistrationPerNumber: return "registration_per_number";
    case Limit::kRegistrationLockPerNumber: return "registration_lock_per_number";
    case Limit::kKeysUploadPerDevice: return "keys_upload_per_device";
    case Limit::kPrekeyLookupPerRequester: return "prekey_lookup_per_requester";
    case Limit::kDirectoryPerRequester: return "directory_per_requester";
    case Limit::kDirectoryPerTarget: return "directory_per_target";
    case Limit::kDeviceLinkPerIp: return "device_link_per_ip";
    case Limit::kProvisioningPerAccount: return "provisioning_per_account";
    case Limit::kMessagesPerSender: return "messages_per_sender";
  }
  return "unknown";
}

Limits::Limits(const LimitsConfig& config, MetricsRegistry& metrics) {
  const std::pair<Limit, BucketConfig> kBuckets[] = {
      {Limit::kSessionCreatePerNumber, config.session_create_per_number},
      {Limit::kSessionCreatePerIp, config.session_create_per_ip},
      {Limit::kCodeSendPerNumber, config.code_send_per_number},
      {Limit::kCodeSendPerIp, config.code_send_per_ip},
      {Limit::kCodeSendPerPrefix, config.code_send_per_prefix},
      {Limit::kCodeCheckPerNumber, config.code_check_per_number},
      {Limit::kRegistrationPerNumber, config.registration_per_number},
      {Limit::kRegistrationLockPerNumber, config.registration_lock_per_number},
      {Limit::kKeysUploadPerDevice, config.keys_upload_per_device},
      {Limit::kPrekeyLookupPerRequester, config.prekey_lookup_per_requester},
      {Limit::kDirectoryPerRequester, config.directory_per_requester},
      {Limit::kDirectoryPerTarget, config.directory_per_target},
      {Limit::kDeviceLinkPerIp, config.device_link_per_ip},
      {Limit::kProvisioningPerAccount, config.provisioning_per_account},
      {Limit::kMessagesPerSender, config.messages_per_sender},
  };
  for (const auto& [limit, bucket] : kBuckets) {
    auto i = static_cast<std::size_t>(limit);
    limiters_[i] = std::make_unique<TokenBucketLimiter>(bucket, config.max_tracked_keys);
    rejections_[i] = &metrics.counter("latchkey_limiter_rejections_total", "Requests refused by a rate limit",
                                      {{"limit", limit_name(limit)}});
  }
}

void Limits::set_limiter(Limit limit, std::unique_ptr<RateLimiter> limiter) {
  limiters_[static_cast<std::size_t>(limit)] = std::move(limiter);
}

Status Limits::check(Limit limit, std::string_view key, EpochMillis now) {
  auto i = static_cast<std::size_t>(limit);
  LimitDecision d = limiters_[i]->try_acquire(key, now);
  if (d.allowed) return {};
  rejections_[i]->inc();
  Error e = make_error(ErrorCode::kRateLimited, fmt::format("too many requests ({}); retry later", limit_name(limit)));
  e.retry_after = d.retry_after;
  return e;
}

}  // namespace latchkey
