#include "limits/sms_pumping_breaker.h"

#include <algorithm>

#include "core/logging.h"

namespace latchkey {

SmsPumpingBreaker::SmsPumpingBreaker(SmsPumpingConfig config, MetricsRegistry& metrics)
    : config_(config), slot_ms_(std::max<EpochMillis>(1, config.window.count() / kSlots)), metrics_(metrics) {}

SmsPumpingBreaker::Slot& SmsPumpingBreaker::slot_for(Prefix& p, EpochMillis now) {
  std::int64_t index = now / slot_ms_;
  Slot& s = p.slots[static_cast<std::size_t>(index % kSlots)];
  if (s.index != index) s = Slot{index, 0, 0};
  return s;
}

void SmsPumpingBreaker::totals(const Prefix& p, EpochMillis now, int& sent, int& verified) const {
  std::int64_t current = now / slot_ms_;
  sent = verified = 0;
  for (const Slot& s : p.slots) {
    if (s.index >= 0 && s.index > current - kSlots && s.index <= current) {
      sent += s.sent;
      verified += s.verified;
    }
  }
}

std::optional<std::chrono::seconds> SmsPumpingBreaker::paused_for(const std::string& prefix, EpochMillis now) {
  if (!config_.enabled) return std::nullopt;
  std::lock_guard lock(mutex_);
  auto it = prefixes_.find(prefix);
  if (it == prefixes_.end() || it->second.paused_until <= now) return std::nullopt;
  auto ms = it->second.paused_until - now;
  return std::chrono::seconds(std::max<EpochMillis>(1, (ms + 999) / 1000));
}

void SmsPumpingBreaker::record_sent(const std::string& prefix, EpochMillis now) {
  if (!config_.enabled) return;
  std::lock_guard lock(mutex_);
  Prefix& p = prefixes_[prefix];
  slot_for(p, now).sent++;
  int sent = 0, verified = 0;
  totals(p, now, sent, verified);
  if (sent >= config_.min_sent && static_cast<double>(verified) < config_.min_verified_ratio * sent) {
    p.paused_until = now + config_.pause.count();
    for (Slot& s : p.slots) s = Slot{};
    metrics_.counter("latchkey_sms_pumping_trips_total", "Times the SMS-pumping breaker paused a prefix",
                     {{"country_code", prefix}})
        .inc();
    log::warn("sms_pumping_breaker_tripped",
              {{"country_code", prefix}, {"sent", sent}, {"verified", verified}, {"pause_ms", config_.pause.count()}});
  }
}

void SmsPumpingBreaker::record_verified(const std::string& prefix, EpochMillis now) {
  if (!config_.enabled) return;
  std::lock_guard lock(mutex_);
  slot_for(prefixes_[prefix], now).verified++;
}

}  // namespace latchkey
