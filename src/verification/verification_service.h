// Verification sessions: a client proves it controls a phone number by answering the proof-of-work gate,
// receiving a code by SMS or voice, and sending the code back. Codes are generated here (libsodium), stored
// only as a keyed hash bound to the session, expire, and are burned after max_code_attempts wrong guesses.
// No provider ever checks a code.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "crypto/random.h"
#include "limits/rate_limiter.h"
#include "limits/sms_pumping_breaker.h"
#include "metrics/metrics.h"
#include "sms/sms_router.h"
#include "storage/verification_session_store.h"

namespace latchkey {

// What a client is told about its session. Times are seconds to wait (0: now); nullopt: not possible.
struct SessionStatus {
  std::string id;
  std::optional<std::int64_t> next_sms;
  std::optional<std::int64_t> next_call;
  std::optional<std::int64_t> next_verification_attempt;
  bool allowed_to_request_code = false;
  std::vector<std::string> requested_information;  // "proofOfWork" while the gate is pending
  bool verified = false;
  std::string pow_challenge;  // raw bytes; non-empty only while the gate is pending
  int pow_bits = 0;
};

// Thread-safe. Every method may block on storage; request_code also blocks on SMS providers (run it on the
// outbound pool). Every method fails with kSessionNotFound for an unknown or expired session id, and with
// kInternal/kUnavailable on storage failure.
class VerificationService {
 public:
  // `code_hash_key` is 32 bytes. All references must outlive the service.
  VerificationService(const VerificationConfig& config, VerificationSessionStore& store, SmsRouter& sms,
                      Limits& limits, SmsPumpingBreaker& breaker, const Clock& clock, Random& random,
                      MetricsRegistry& metrics, std::string code_hash_key);

  // Starts a session for a number in international format.
  // kInvalidNumber, kCountryNotAllowed, kRateLimited (per number and per client IP).
  Result<SessionStatus> create_session(std::string_view number, std::string_view client_ip);

  Result<SessionStatus> get_session(const std::string& id);

  // Answers the proof-of-work gate. kMalformedRequest if the nonce is not 1..20 digits; kProofOfWorkInvalid if
  // it does not meet the difficulty. Idempotent once passed.
  Result<SessionStatus> submit_proof_of_work(const std::string& id, std::string_view nonce);

  // Generates a code and delivers it. kSessionAlreadyVerified, kProofOfWorkRequired, kTransportNotOffered
  // (voice before a first SMS, or no provider for the transport), kRateLimited (too soon, or a bucket),
  // kSmsPaused (SMS-pumping breaker), kSmsRefused, kInvalidNumber, kSmsDeliveryFailed.
  Result<SessionStatus> request_code(const std::string& id, Transport transport, std::string_view locale,
                                     std::string_view client_ip);

  // Checks a code (exactly 6 digits, else kMalformedRequest). A wrong code answers ok with verified false and
  // counts a guess; the last allowed wrong guess burns the code. kNoActiveCode when no code is pending, it
  // expired or it was burned. kRateLimited per number. On a verified session answers ok without checking.
  Result<SessionStatus> check_code(const std::string& id, std::string_view code);

  // Marks a verified session as used by a registration of `number`, exactly once.
  // kRegistrationSessionInvalid (unknown or expired), kSessionNumberMismatch, kSessionNotVerified,
  // kSessionAlreadyUsed.
  Result<VerificationSession> consume_for_registration(const std::string& id, const std::string& number);

  // The same checks as consume_for_registration, without using the session up (registration checks the
  // session before Registration Lock, and consumes it only once the lock let it through).
  Status check_for_registration(const std::string& id, const std::string& number);

  // Keeps a session alive until at least `until` (a registration waiting out the takeover delay).
  Status extend_until(const std::string& id, EpochMillis until);

  // Uses the session up without a registration (the owner refused the takeover it was waiting for).
  Status burn(const std::string& id);

  // Deletes expired sessions (a periodic task). Answers how many were deleted.
  Result<int> purge_expired(int limit);

  SessionStatus describe(const VerificationSession& session, EpochMillis now) const;

  // Called (on the calling thread, after the session is stored verified) with the number each time a
  // session becomes verified. Set once, before serving.
  void set_on_verified(std::function<void(const std::string& number)> callback) { on_verified_ = std::move(callback); }

  static constexpr int kCodeDigits = 6;

 private:
  // Loads the live session, applies `change` and stores it with compare-and-set, retrying on conflicts.
  // `change` may return an error to abort without writing.
  template <class Change>
  Result<VerificationSession> mutate(const std::string& id, ErrorCode missing, Change change);
  Result<VerificationSession> load_live(const std::string& id, ErrorCode missing);
  static Status registration_rules(const VerificationSession& s, const std::string& number);
  bool code_active(const VerificationSession& s, EpochMillis now) const;
  Duration delay_after(const std::vector<Duration>& delays, int sent) const;

  const VerificationConfig& config_;
  VerificationSessionStore& store_;
  SmsRouter& sms_;
  Limits& limits_;
  SmsPumpingBreaker& breaker_;
  const Clock& clock_;
  Random& random_;
  const std::string code_hash_key_;
  Counter& sessions_created_;
  Counter& checks_verified_;
  Counter& checks_wrong_;
  Counter& checks_burned_;
  std::function<void(const std::string&)> on_verified_;
};

}  // namespace latchkey
