// The SMS-pumping circuit breaker. Fraudsters who are paid per delivered SMS request codes for numbers they
// control and never verify them; the tell is a low verified/sent ratio for a country calling code. When, over
// the sliding window, at least min_sent codes were sent to a prefix and fewer than min_verified_ratio of them
// were verified, sends to that prefix pause for `pause`; the window's counts then start afresh. In memory, per
// node. Thread-safe.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/config.h"
#include "metrics/metrics.h"

namespace latchkey {

class SmsPumpingBreaker {
 public:
  SmsPumpingBreaker(SmsPumpingConfig config, MetricsRegistry& metrics);

  // When sends to `prefix` are paused: how long until they resume (at least 1 s). nullopt when open.
  std::optional<std::chrono::seconds> paused_for(const std::string& prefix, EpochMillis now);

  // Records a code sent to / verified for a number with this calling code; recording a send may trip the breaker.
  void record_sent(const std::string& prefix, EpochMillis now);
  void record_verified(const std::string& prefix, EpochMillis now);

 private:
  static constexpr int kSlots = 60;  // the window is cut into this many slots
  struct Slot {
    std::int64_t index = -1;  // which window slice this slot currently counts
    int sent = 0;
    int verified = 0;
  };
  struct Prefix {
    std::vector<Slot> slots = std::vector<Slot>(kSlots);
    EpochMillis paused_until = 0;
  };
  Slot& slot_for(Prefix& p, EpochMillis now);
  void totals(const Prefix& p, EpochMillis now, int& sent, int& verified) const;

  const SmsPumpingConfig config_;
  const EpochMillis slot_ms_;
  MetricsRegistry& metrics_;
  std::mutex mutex_;
  std::unordered_map<std::string, Prefix> prefixes_;  // guarded by mutex_; bounded by the ~200 calling codes
};

}  // namespace latchkey
