#include "verification/verification_service.h"

#include <algorithm>

#include "core/encoding.h"
#include "core/logging.h"
#include "core/phone_number.h"
#include "crypto/proof_of_work.h"
#include "crypto/secret_hash.h"
#include "sms/verification_message.h"

namespace latchkey {
namespace {

constexpr int kMaxCasAttempts = 16;
constexpr std::size_t kSessionIdBytes = 16;
constexpr std::size_t kChallengeBytes = 16;

std::int64_t seconds_until(EpochMillis at, EpochMillis now) { return at <= now ? 0 : (at - now + 999) / 1000; }

bool is_code_format(std::string_view code) {
  if (code.size() != VerificationService::kCodeDigits) return false;
  return std::all_of(code.begin(), code.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
}

}  // namespace

VerificationService::VerificationService(const VerificationConfig& config, VerificationSessionStore& store,
                                         SmsRouter& sms, Limits& limits, SmsPumpingBreaker& breaker,
                                         const Clock& clock, Random& random, MetricsRegistry& metrics,
                                         std::string code_hash_key)
    : config_(config),
      store_(store),
      sms_(sms),
      limits_(limits),
      breaker_(breaker),
      clock_(clock),
      random_(random),
      code_hash_key_(std::move(code_hash_key)),
      sessions_created_(metrics.counter("latchkey_verification_sessions_created_total", "Verification sessions created")),
      checks_verified_(metrics.counter("latchkey_verification_checks_total", "Code checks by outcome", {{"outcome", "verified"}})),
      checks_wrong_(metrics.counter("latchkey_verification_checks_total", "Code checks by outcome", {{"outcome", "wrong"}})),
      checks_burned_(metrics.counter("latchkey_verification_checks_total", "Code checks by outcome", {{"outcome", "burned"}})) {}

bool VerificationService::code_active(const VerificationSession& s, EpochMillis now) const {
  return !s.code_hash.empty() && s.code_expires_at > now && s.code_attempts < config_.max_code_attempts;
}

Duration VerificationService::delay_after(const std::vector<Duration>& delays, int sent) const {
  std::size_t i = static_cast<std::size_t>(std::max(1, sent) - 1);
  return delays[std::min(i, delays.size() - 1)];
}

SessionStatus VerificationService::describe(const VerificationSession& s, EpochMillis now) const {
  SessionStatus out;
  out.id = s.id;
  if (s.verified_at != 0) {
    out.verified = true;
    return out;
  }
  if (s.pow_bits > 0 && !s.pow_passed) {
    out.requested_information.push_back("proofOfWork");
    out.pow_challenge = s.pow_challenge;
    out.pow_bits = s.pow_bits;
  } else {
    if (sms_.offers(s.country_code, Transport::kSms)) out.next_sms = seconds_until(s.next_sms_at, now);
    if (s.sms_sent > 0 && sms_.offers(s.country_code, Transport::kVoice))
      out.next_call = seconds_until(s.next_call_at, now);
  }
  if (code_active(s, now)) out.next_verification_attempt = 0;
  out.allowed_to_request_code = out.next_sms.has_value() || out.next_call.has_value();
  return out;
}

Result<VerificationSession> VerificationService::load_live(const std::string& id, ErrorCode missing) {
  auto found = store_.find(id);
  if (!found.ok()) return found.take_error();
  if (!found->has_value() || (*found)->expires_at <= clock_.now_ms())
    return make_error(missing, "verification session not found or expired");
  return std::move(**found);
}

template <class Change>
Result<VerificationSession> VerificationService::mutate(const std::string& id, ErrorCode missing, Change change) {
  for (int attempt = 0; attempt < kMaxCasAttempts; ++attempt) {
    auto loaded = load_live(id, missing);
    if (!loaded.ok()) return loaded;
    VerificationSession s = std::move(loaded.value());
    Status changed = change(s);
    if (!changed.ok()) return changed.take_error();
    Status stored = store_.update(s);
    if (stored.ok()) {
      s.version++;
      return s;
    }
    if (stored.error().code == ErrorCode::kSessionNotFound) return make_error(missing, "verification session not found or expired");
    if (stored.error().code != ErrorCode::kConflict) return stored.take_error();
  }
  return make_error(ErrorCode::kUnavailable, "the session is being changed concurrently; retry");
}

Result<SessionStatus> VerificationService::create_session(std::string_view number_text, std::string_view client_ip) {
  auto number = parse_phone_number(number_text);
  if (!number.ok()) return number.take_error();
  const auto& allowed = config_.allowed_country_codes;
  if (!allowed.empty() && std::find(allowed.begin(), allowed.end(), number->country_code) == allowed.end())
    return make_error(ErrorCode::kCountryNotAllowed, "registration is not offered for this country");
  EpochMillis now = clock_.now_ms();
  LK_RETURN_IF_ERROR(limits_.check(Limit::kSessionCreatePerIp, client_ip, now));
  LK_RETURN_IF_ERROR(limits_.check(Limit::kSessionCreatePerNumber, number->e164, now));

  VerificationSession s;
  s.id = base64url_encode(random_bytes(random_, kSessionIdBytes));
  s.number = number->e164;
  s.country_code = number->country_code;
  s.created_at = now;
  s.expires_at = now + config_.session_ttl.count();
  if (config_.proof_of_work_bits > 0) {
    s.pow_challenge = random_bytes(random_, kChallengeBytes);
    s.pow_bits = config_.proof_of_work_bits;
  }
  LK_RETURN_IF_ERROR(store_.insert(s));
  sessions_created_.inc();
  return describe(s, now);
}

Result<SessionStatus> VerificationService::get_session(const std::string& id) {
  auto s = load_live(id, ErrorCode::kSessionNotFound);
  if (!s.ok()) return s.take_error();
  return describe(*s, clock_.now_ms());
}

Result<SessionStatus> VerificationService::submit_proof_of_work(const std::string& id, std::string_view nonce) {
  if (!is_decimal_nonce(nonce))
    return make_error(ErrorCode::kMalformedRequest, "proofOfWork.nonce must be a string of 1 to 20 decimal digits");
  auto s = mutate(id, ErrorCode::kSessionNotFound, [&](VerificationSession& s) -> Status {
    if (s.pow_bits == 0 || s.pow_passed) return {};
    if (!proof_of_work_valid(s.pow_challenge, nonce, s.pow_bits))
      return make_error(ErrorCode::kProofOfWorkInvalid, "the nonce does not meet the proof-of-work difficulty");
    s.pow_passed = true;
    return {};
  });
  if (!s.ok()) return s.take_error();
  return describe(*s, clock_.now_ms());
}

Result<SessionStatus> VerificationService::request_code(const std::string& id, Transport transport,
                                                        std::string_view locale, std::string_view client_ip) {
  EpochMillis now = clock_.now_ms();
  std::string code = random_digits(random_, kCodeDigits);
  VerificationSession before;
  // Reserve the send in the session first, so that two concurrent requests cannot both send.
  auto reserved = mutate(id, ErrorCode::kSessionNotFound, [&](VerificationSession& s) -> Status {
    if (s.verified_at != 0) return make_error(ErrorCode::kSessionAlreadyVerified, "the session is already verified");
    if (s.pow_bits > 0 && !s.pow_passed)
      return make_error(ErrorCode::kProofOfWorkRequired, "answer the proof-of-work challenge before requesting a code");
    bool sms = transport == Transport::kSms;
    if (!sms_.offers(s.country_code, transport) || (!sms && s.sms_sent == 0))
      return make_error(ErrorCode::kTransportNotOffered,
                        sms ? "no SMS provider serves this number" : "a voice call is offered only after a first SMS");
    EpochMillis next = sms ? s.next_sms_at : s.next_call_at;
    if (next > now) {
      Error e = make_error(ErrorCode::kRateLimited, "a new code cannot be sent yet");
      e.retry_after = std::chrono::seconds(seconds_until(next, now));
      return e;
    }
    before = s;
    s.code_hash = keyed_hash(code_hash_key_, s.id, code);
    s.code_expires_at = std::min(now + config_.code_ttl.count(), s.expires_at);
    s.code_attempts = 0;
    if (sms) {
      s.sms_sent++;
      s.next_sms_at = now + delay_after(config_.sms_delays, s.sms_sent).count();
      // A first call waits as long as the next SMS would: the SMS just sent deserves time to arrive.
      if (s.calls_made == 0) s.next_call_at = s.next_sms_at;
    } else {
      s.calls_made++;
      s.next_call_at = now + delay_after(config_.call_delays, s.calls_made).count();
    }
    return {};
  });
  if (!reserved.ok()) return reserved.take_error();
  VerificationSession s = std::move(reserved.value());

  // Limits and the breaker are checked after the session rules so a request that is refused for being too
  // soon does not also consume tokens; a refusal here releases the reservation.
  auto release = [&](Error error) -> Result<SessionStatus> {
    auto undo = mutate(id, ErrorCode::kSessionNotFound, [&](VerificationSession& cur) -> Status {
      // Nothing was delivered: the code the user may already hold stays the valid one.
      if (cur.code_hash == s.code_hash) {
        cur.code_hash = before.code_hash;
        cur.code_expires_at = before.code_expires_at;
        cur.code_attempts = before.code_attempts;
      }
      cur.sms_sent = before.sms_sent;
      cur.calls_made = before.calls_made;
      cur.next_sms_at = before.next_sms_at;
      cur.next_call_at = before.next_call_at;
      return {};
    });
    if (!undo.ok()) log::warn("code_reservation_not_released", {{"reason", undo.error().message}});
    return error;
  };
  for (auto [limit, key] : {std::pair{Limit::kCodeSendPerNumber, std::string_view(s.number)},
                            std::pair{Limit::kCodeSendPerIp, client_ip},
                            std::pair{Limit::kCodeSendPerPrefix, std::string_view(s.country_code)}}) {
    Status allowed = limits_.check(limit, key, now);
    if (!allowed.ok()) return release(allowed.take_error());
  }
  if (auto paused = breaker_.paused_for(s.country_code, now)) {
    Error e = make_error(ErrorCode::kSmsPaused, "codes to this country are paused for a while; retry later");
    e.retry_after = *paused;
    return release(std::move(e));
  }

  OutgoingMessage message{s.number, s.country_code, transport, verification_message_text(locale, code, transport)};
  auto receipt = sms_.send(message);
  if (!receipt.ok()) {
    log::warn("verification_code_not_delivered",
              {{"session", s.id}, {"number", log::mask_number(s.number)}, {"reason", receipt.error().message}});
    return release(receipt.take_error());
  }
  breaker_.record_sent(s.country_code, now);
  log::info("verification_code_sent", {{"session", s.id},
                                       {"number", log::mask_number(s.number)},
                                       {"transport", transport_name(transport)},
                                       {"provider", receipt->provider}});
  auto recorded = mutate(id, ErrorCode::kSessionNotFound, [&](VerificationSession& cur) -> Status {
    cur.last_provider = receipt->provider;
    return {};
  });
  if (!recorded.ok()) return recorded.take_error();
  return describe(*recorded, clock_.now_ms());
}

Result<SessionStatus> VerificationService::check_code(const std::string& id, std::string_view code) {
  if (!is_code_format(code))
    return make_error(ErrorCode::kMalformedRequest, "code must be a string of exactly 6 digits");
  auto current = load_live(id, ErrorCode::kSessionNotFound);
  if (!current.ok()) return current.take_error();
  EpochMillis now = clock_.now_ms();
  if (current->verified_at != 0) return describe(*current, now);
  LK_RETURN_IF_ERROR(limits_.check(Limit::kCodeCheckPerNumber, current->number, now));

  enum class Outcome { kVerified, kWrong, kBurned } outcome = Outcome::kWrong;
  auto checked = mutate(id, ErrorCode::kSessionNotFound, [&](VerificationSession& s) -> Status {
    if (s.verified_at != 0) {
      outcome = Outcome::kVerified;
      return {};
    }
    if (!code_active(s, now))
      return make_error(ErrorCode::kNoActiveCode, "no code is pending for this session: request a new one");
    if (constant_time_equal(keyed_hash(code_hash_key_, s.id, code), s.code_hash)) {
      s.verified_at = now;
      s.code_hash.clear();
      outcome = Outcome::kVerified;
      return {};
    }
    s.code_attempts++;
    outcome = Outcome::kWrong;
    if (s.code_attempts >= config_.max_code_attempts) {
      s.code_hash.clear();
      outcome = Outcome::kBurned;
    }
    return {};
  });
  if (!checked.ok()) return checked.take_error();
  switch (outcome) {
    case Outcome::kVerified:
      if (checked->verified_at == now) {
        checks_verified_.inc();
        breaker_.record_verified(checked->country_code, now);
        log::info("verification_session_verified", {{"session", id}, {"number", log::mask_number(checked->number)}});
        if (on_verified_) on_verified_(checked->number);
      }
      break;
    case Outcome::kWrong: checks_wrong_.inc(); break;
    case Outcome::kBurned:
      checks_burned_.inc();
      log::warn("verification_code_burned", {{"session", id}, {"number", log::mask_number(checked->number)}});
      break;
  }
  return describe(*checked, now);
}

Status VerificationService::registration_rules(const VerificationSession& s, const std::string& number) {
  if (!constant_time_equal(s.number, number))
    return make_error(ErrorCode::kSessionNumberMismatch, "the session was verified for another number");
  if (s.verified_at == 0) return make_error(ErrorCode::kSessionNotVerified, "the session is not verified");
  if (s.consumed_at != 0)
    return make_error(ErrorCode::kSessionAlreadyUsed, "the session was already used for a registration");
  return {};
}

Status VerificationService::check_for_registration(const std::string& id, const std::string& number) {
  auto s = load_live(id, ErrorCode::kRegistrationSessionInvalid);
  if (!s.ok()) return s.take_error();
  return registration_rules(*s, number);
}

Result<VerificationSession> VerificationService::consume_for_registration(const std::string& id,
                                                                         const std::string& number) {
  EpochMillis now = clock_.now_ms();
  return mutate(id, ErrorCode::kRegistrationSessionInvalid, [&](VerificationSession& s) -> Status {
    LK_RETURN_IF_ERROR(registration_rules(s, number));
    s.consumed_at = now;
    return {};
  });
}

Status VerificationService::extend_until(const std::string& id, EpochMillis until) {
  auto s = mutate(id, ErrorCode::kRegistrationSessionInvalid, [&](VerificationSession& s) -> Status {
    s.expires_at = std::max(s.expires_at, until);
    return {};
  });
  if (!s.ok()) return s.take_error();
  return {};
}

Status VerificationService::burn(const std::string& id) {
  EpochMillis now = clock_.now_ms();
  auto s = mutate(id, ErrorCode::kRegistrationSessionInvalid, [&](VerificationSession& s) -> Status {
    if (s.consumed_at == 0) s.consumed_at = now;
    return {};
  });
  if (!s.ok() && s.error().code != ErrorCode::kRegistrationSessionInvalid) return s.take_error();
  return {};
}

Result<int> VerificationService::purge_expired(int limit) { return store_.delete_expired(clock_.now_ms(), limit); }

}  // namespace latchkey
