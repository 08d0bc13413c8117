#include "lock/takeover_guard.h"

#include <algorithm>

#include "core/encoding.h"
#include "core/logging.h"

namespace latchkey {

TakeoverGuard::TakeoverGuard(const AccountsConfig& config, TakeoverStore& store, NoticeStore& notices,
                             VerificationService& verification, const Clock& clock, Random& random,
                             MetricsRegistry& metrics)
    : config_(config),
      store_(store),
      notices_(notices),
      verification_(verification),
      clock_(clock),
      random_(random),
      started_(metrics.counter("latchkey_takeovers_total", "Delayed takeovers by outcome", {{"outcome", "pending"}})),
      denied_(metrics.counter("latchkey_takeovers_total", "Delayed takeovers by outcome", {{"outcome", "denied"}})),
      completed_(metrics.counter("latchkey_takeovers_total", "Delayed takeovers by outcome", {{"outcome", "completed"}})) {}

Result<std::optional<PendingTakeover>> TakeoverGuard::check(const Account& existing, const std::string& session_id,
                                                            bool lock_passed) {
  using Pending = std::optional<PendingTakeover>;
  if (lock_passed || config_.takeover_delay.count() == 0) return Pending();
  EpochMillis now = clock_.now_ms();
  auto attempt = store_.find_by_session(existing.uuid, session_id);
  if (!attempt.ok()) return attempt.take_error();
  if (attempt->has_value()) {
    const TakeoverAttempt& a = **attempt;
    if (a.state == "denied")
      return make_error(ErrorCode::kTakeoverDenied, "the account's owner refused this registration");
    if (a.state == "approved" || a.not_before <= now) return Pending();
    return Pending(PendingTakeover{a.id, a.not_before});
  }
  EpochMillis last_seen = 0;
  for (const Device& d : existing.devices) last_seen = std::max(last_seen, d.last_seen_at);
  if (last_seen + config_.takeover_seen_window.count() <= now) return Pending();  // nobody to ask

  TakeoverAttempt a;
  a.id = base64url_encode(random_bytes(random_, 16));
  a.account_uuid = existing.uuid;
  a.session_id = session_id;
  a.created_at = now;
  a.not_before = now + config_.takeover_delay.count();
  a.state = "pending";
  LK_RETURN_IF_ERROR(verification_.extend_until(session_id, a.not_before + 60 * 60 * 1000));
  LK_RETURN_IF_ERROR(store_.create(a));
  started_.inc();
  nlohmann::json details = {{"takeoverId", a.id}, {"notBefore", a.not_before}};
  auto notice = notices_.add(existing.uuid, "takeover_pending", details.dump(), now);
  if (!notice.ok()) log::warn("notice_not_recorded", {{"uuid", existing.uuid}, {"reason", notice.error().message}});
  log::warn("takeover_delayed", {{"uuid", existing.uuid},
                                 {"number", log::mask_number(existing.number)},
                                 {"takeover", a.id},
                                 {"not_before", a.not_before}});
  return Pending(PendingTakeover{a.id, a.not_before});
}

bool TakeoverGuard::was_denied(const std::string& account_uuid, const std::string& session_id) {
  auto attempt = store_.find_by_session(account_uuid, session_id);
  return attempt.ok() && attempt->has_value() && (*attempt)->state == "denied";
}

void TakeoverGuard::completed(const std::string& account_uuid, const std::string& session_id) {
  auto attempt = store_.find_by_session(account_uuid, session_id);
  if (!attempt.ok() || !attempt->has_value()) return;
  const TakeoverAttempt& a = **attempt;
  if (store_.transition(a.id, a.state, "completed").ok()) completed_.inc();
}

Result<TakeoverAttempt> TakeoverGuard::owned_attempt(const std::string& account_uuid, const std::string& attempt_id) {
  auto attempt = store_.find(attempt_id);
  if (!attempt.ok()) return attempt.take_error();
  if (!attempt->has_value() || (*attempt)->account_uuid != account_uuid)
    return make_error(ErrorCode::kNotFound, "no such takeover attempt for this account");
  return std::move(**attempt);
}

Status TakeoverGuard::deny(const std::string& account_uuid, const std::string& attempt_id) {
  auto a = owned_attempt(account_uuid, attempt_id);
  if (!a.ok()) return a.take_error();
  LK_RETURN_IF_ERROR(store_.transition(a->id, "pending", "denied"));
  LK_RETURN_IF_ERROR(verification_.burn(a->session_id));
  denied_.inc();
  log::info("takeover_denied", {{"uuid", account_uuid}, {"takeover", a->id}});
  return {};
}

Status TakeoverGuard::approve(const std::string& account_uuid, const std::string& attempt_id) {
  auto a = owned_attempt(account_uuid, attempt_id);
  if (!a.ok()) return a.take_error();
  LK_RETURN_IF_ERROR(store_.transition(a->id, "pending", "approved"));
  log::info("takeover_approved", {{"uuid", account_uuid}, {"takeover", a->id}});
  return {};
}

}  // namespace latchkey
