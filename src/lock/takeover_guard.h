// The takeover delay (beyond Signal's reference): an SMS code alone does not take over an account whose
// devices are active, even without Registration Lock. The registration is held for accounts.takeover_delay
// (default 24 hours) and the owner's devices get a notice; any of them can deny it (which burns the
// session) or approve it. After the delay the new device repeats the same registration call and succeeds.
// The idea is the same as the forgotten-PIN wait of other messengers: the real owner loses a day at worst,
// an attacker with a leaked code loses the account they were after. Reasoning: docs/takeover-delay.md.
#pragma once

#include <optional>
#include <string>

#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "crypto/random.h"
#include "metrics/metrics.h"
#include "storage/account_store.h"
#include "storage/notice_store.h"
#include "storage/takeover_store.h"
#include "verification/verification_service.h"

namespace latchkey {

struct PendingTakeover {
  std::string id;
  EpochMillis not_before = 0;
};

// Thread-safe; calls block on storage (worker threads only).
class TakeoverGuard {
 public:
  TakeoverGuard(const AccountsConfig& config, TakeoverStore& store, NoticeStore& notices,
                VerificationService& verification, const Clock& clock, Random& random, MetricsRegistry& metrics);

  // For an SMS-verified registration of `existing`'s number by session `session_id` (Registration Lock,
  // if any, already passed or lapsed). nullopt: the registration may proceed now. A value: it must wait
  // (first call: the attempt is created, the session kept alive until then, and the owner told).
  // kTakeoverDenied when the owner refused this attempt.
  // `lock_passed`: the caller presented the right Registration Lock token, so it is the owner: no delay.
  Result<std::optional<PendingTakeover>> check(const Account& existing, const std::string& session_id, bool lock_passed);

  // True when the owner denied the attempt made with this session.
  bool was_denied(const std::string& account_uuid, const std::string& session_id);

  // Marks the attempt for this session completed after the registration went through (if there was one).
  void completed(const std::string& account_uuid, const std::string& session_id);

  // The owner decides. kNotFound: no such attempt for this account; kConflict: already decided or completed.
  Status deny(const std::string& account_uuid, const std::string& attempt_id);
  Status approve(const std::string& account_uuid, const std::string& attempt_id);

 private:
  Result<TakeoverAttempt> owned_attempt(const std::string& account_uuid, const std::string& attempt_id);

  const AccountsConfig& config_;
  TakeoverStore& store_;
  NoticeStore& notices_;
  VerificationService& verification_;
  const Clock& clock_;
  Random& random_;
  Counter& started_;
  Counter& denied_;
  Counter& completed_;
};

}  // namespace latchkey
