// Staff accounts and their sign-in: WebAuthn only (passkeys or security keys; no passwords, SMS or TOTP).
//
// Enrollment: an administrator (or `latchkeyd staff invite` on the server host) creates a single-use invite; its
// link carries a random token. The invitee's browser asks for creation options (a single-use challenge bound to
// the invite), creates a credential, and enroll() verifies it (webauthn/webauthn.h), creates the member and
// starts a session. Sign-in: sign_in_options() hands out a single-use challenge for a discoverable credential;
// sign_in() verifies the assertion (counter included) and starts a session.
//
// Sessions are random 32-byte tokens sent only as an HttpOnly, SameSite=Strict (and Secure) cookie; the store
// keeps their SHA-256. They end after staff.session_ttl, after staff.session_idle_timeout without a request, on
// sign-out, or when the member is disabled. Every sign-in, failed sign-in, enrollment, invite, sign-out and
// disabling is audited; an action whose audit entry cannot be written fails.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "audit/audit_log.h"
#include "core/clock.h"
#include "core/config.h"
#include "crypto/random.h"
#include "limits/rate_limiter.h"
#include "metrics/metrics.h"
#include "staff/staff_authorizer.h"
#include "storage/staff_store.h"
#include "webauthn/webauthn.h"

namespace latchkey {

struct EnrollmentLink {
  std::string url;         // <first staff.origins entry>/console/#enroll=<token>
  EpochMillis expires_at = 0;
};

struct SignedIn {
  StaffPrincipal principal;
  std::string cookie;      // the whole Set-Cookie value
};

// Thread-safe. Blocks on storage: call from worker threads.
class StaffService final : public StaffAuthorizer {
 public:
  StaffService(const StaffConfig& config, StaffStore& store, AuditLog& audit, const Clock& clock, Random& random,
               MetricsRegistry& metrics);

  static constexpr const char* kCookieName = "lk_staff";

  // Creates an invite for `name` (1..64 printable characters) with `role`. `actor` is the inviter's audit actor.
  // Errors: kMalformedRequest (bad name or role), kConflict (name taken).
  Result<EnrollmentLink> invite(const std::string& actor, const std::string& name, const std::string& role);

  // PublicKeyCredentialCreationOptions (JSON, binary fields base64url) for the invite `token`.
  // kForbidden if the invite is unknown, used or expired.
  Result<nlohmann::json> enrollment_options(const std::string& token);

  // Verifies the new credential against the invite's challenge, creates the member and signs them in.
  // Errors: kForbidden (invite), kUnauthorized (challenge or any WebAuthn check; message names it),
  // kMalformedRequest (undecodable response), kConflict (name or credential taken).
  Result<SignedIn> enroll(const std::string& token, const webauthn::RegistrationResponse& response,
                          const std::string& client_ip);

  // PublicKeyCredentialRequestOptions for a discoverable credential. kRateLimited per client address.
  Result<nlohmann::json> sign_in_options(const std::string& client_ip);

  // Verifies the assertion. kUnauthorized for an unknown credential, a disabled member, a used or expired
  // challenge, or a failed check (audited as staff.sign_in_failed with the reason).
  Result<SignedIn> sign_in(const webauthn::AssertionResponse& response, const std::string& client_ip);

  // Ends the request's session (if any) and answers the Set-Cookie value that clears the cookie.
  Result<std::string> sign_out(const HttpRequest& request);

  Result<StaffPrincipal> authorize(const HttpRequest& request, Permission permission) override;

  Result<std::vector<StaffMember>> members();
  // kNotFound if unknown; kForbidden to disable oneself.
  Status disable(const StaffPrincipal& by, const std::string& staff_id);

  // For the command line (`latchkeyd staff list`): how many active members exist.
  Result<std::size_t> active_members();

 private:
  Result<SignedIn> start_session(const StaffMember& member);
  // The unused, unexpired invite with this token hash; kForbidden otherwise.
  Result<StaffInvite> live_invite(const std::string& token_hash, EpochMillis now);
  std::string cookie_value(const std::string& token, std::int64_t max_age_seconds) const;
  webauthn::RelyingParty relying_party() const;

  const StaffConfig& config_;
  StaffStore& store_;
  AuditLog& audit_;
  const Clock& clock_;
  Random& random_;
  MetricsRegistry& metrics_;
  TokenBucketLimiter sign_in_limiter_;
};

// The session token from a Cookie header ("a=1; lk_staff=TOKEN; b=2"), or empty.
std::string staff_session_token(const HttpRequest& request);

}  // namespace latchkey
