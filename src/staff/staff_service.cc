#include "staff/staff_service.h"

#include "core/encoding.h"
#include "core/logging.h"
#include "crypto/secret_hash.h"

namespace latchkey {
namespace {

constexpr const char* kEnrollPurpose = "enroll";
constexpr const char* kSignInPurpose = "sign_in";
constexpr std::size_t kTokenBytes = 32;
constexpr std::size_t kChallengeBytes = 32;

std::int64_t millis(Duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

bool valid_name(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (unsigned char ch : name)
    if (ch < 0x20 || ch == 0x7f) return false;
  return name.front() != ' ' && name.back() != ' ';
}

}  // namespace

std::string staff_session_token(const HttpRequest& request) {
  const std::string* header = request.header("cookie");
  if (header == nullptr) return {};
  std::string_view rest = *header;
  const std::string_view wanted = StaffService::kCookieName;
  while (!rest.empty()) {
    std::size_t end = rest.find(';');
    std::string_view pair = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end + 1);
    while (!pair.empty() && pair.front() == ' ') pair.remove_prefix(1);
    std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos) continue;
    if (pair.substr(0, eq) == wanted) return std::string(pair.substr(eq + 1));
  }
  return {};
}

StaffService::StaffService(const StaffConfig& config, StaffStore& store, AuditLog& audit, const Clock& clock,
                           Random& random, MetricsRegistry& metrics)
    : config_(config),
      store_(store),
      audit_(audit),
      clock_(clock),
      random_(random),
      metrics_(metrics),
      sign_in_limiter_(config.sign_in_per_ip, 100'000) {}

webauthn::RelyingParty StaffService::relying_party() const {
  webauthn::RelyingParty rp;
  rp.id = config_.rp_id;
  rp.origins = config_.origins;
  rp.require_user_verification = config_.require_user_verification;
  return rp;
}

std::string StaffService::cookie_value(const std::string& token, std::int64_t max_age_seconds) const {
  std::string cookie = std::string(kCookieName) + "=" + token + "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" +
                       std::to_string(max_age_seconds);
  if (config_.cookie_secure) cookie += "; Secure";
  return cookie;
}

Result<EnrollmentLink> StaffService::invite(const std::string& actor, const std::string& name,
                                            const std::string& role) {
  if (!valid_name(name))
    return make_error(ErrorCode::kMalformedRequest, "name: expected 1 to 64 printable characters");
  if (!parse_role(role))
    return make_error(ErrorCode::kMalformedRequest, "role: expected viewer, support, responder or admin");
  const std::string token = base64url_encode(random_bytes(random_, kTokenBytes));
  const EpochMillis now = clock_.now_ms();
  StaffInvite invite;
  invite.token_hash = sha256(token);
  invite.name = name;
  invite.role = role;
  invite.invited_by = actor;
  invite.created_at = now;
  invite.expires_at = now + millis(config_.invite_ttl);
  LK_RETURN_IF_ERROR(store_.put_invite(invite));
  auto audited = audit_.record(actor, "staff.invite", name, {{"role", role}, {"expiresAt", invite.expires_at}});
  if (!audited.ok()) return audited.take_error();
  return EnrollmentLink{config_.origins.front() + "/console/#enroll=" + token, invite.expires_at};
}

Result<StaffInvite> StaffService::live_invite(const std::string& token_hash, EpochMillis now) {
  auto invite = store_.find_invite(token_hash);
  if (!invite.ok()) return invite.take_error();
  if (!invite->has_value() || (*invite)->used_at != 0 || (*invite)->expires_at <= now)
    return make_error(ErrorCode::kForbidden, "the enrollment link is unknown, used or expired");
  return std::move(**invite);
}

Result<nlohmann::json> StaffService::enrollment_options(const std::string& token) {
  const EpochMillis now = clock_.now_ms();
  const std::string token_hash = sha256(token);
  auto invite = live_invite(token_hash, now);
  if (!invite.ok()) return invite.take_error();
  const std::string challenge = random_bytes(random_, kChallengeBytes);
  LK_RETURN_IF_ERROR(
      store_.put_challenge(challenge, kEnrollPurpose, token_hash, now + millis(config_.challenge_ttl), now));
  const StaffInvite& i = *invite;
  return nlohmann::json{
      {"rp", {{"id", config_.rp_id}, {"name", config_.rp_name}}},
      {"user", {{"id", base64url_encode(random_bytes(random_, 16))}, {"name", i.name}, {"displayName", i.name}}},
      {"challenge", base64url_encode(challenge)},
      {"pubKeyCredParams", nlohmann::json::array({{{"type", "public-key"}, {"alg", -7}}})},
      {"timeout", millis(config_.challenge_ttl)},
      {"attestation", "none"},
      {"authenticatorSelection",
       {{"residentKey", "required"},
        {"requireResidentKey", true},
        {"userVerification", config_.require_user_verification ? "required" : "preferred"}}},
      {"role", i.role}};
}

Result<SignedIn> StaffService::enroll(const std::string& token, const webauthn::RegistrationResponse& response,
                                      const std::string& client_ip) {
  const EpochMillis now = clock_.now_ms();
  const std::string token_hash = sha256(token);
  auto invite = live_invite(token_hash, now);
  if (!invite.ok()) return invite.take_error();
  auto challenge = webauthn::challenge_of(response.client_data_json);
  if (!challenge.ok()) return challenge.take_error();
  auto consumed = store_.consume_challenge(*challenge, kEnrollPurpose, token_hash, now);
  if (!consumed.ok()) return consumed.take_error();
  if (!*consumed) return make_error(ErrorCode::kUnauthorized, "the challenge is unknown, used or expired");
  auto credential = webauthn::verify_registration(relying_party(), response, *challenge);
  if (!credential.ok()) {
    metrics_.counter("latchkey_staff_enrollments_total", "Staff enrollment attempts", {{"outcome", "refused"}}).inc();
    return credential.take_error();
  }
  StaffMember member;
  member.id = new_uuid(random_);
  member.name = invite->name;
  member.role = invite->role;
  member.created_at = now;
  member.created_by = invite->invited_by;
  StaffCredential stored;
  stored.credential_id = credential->credential_id;
  stored.staff_id = member.id;
  stored.public_key_cose = credential->public_key_cose;
  stored.sign_count = credential->sign_count;
  stored.created_at = now;
  LK_RETURN_IF_ERROR(store_.enroll(token_hash, member, stored, now));
  metrics_.counter("latchkey_staff_enrollments_total", "Staff enrollment attempts", {{"outcome", "enrolled"}}).inc();
  auto audited = audit_.record("staff:" + member.id, "staff.enroll", member.id,
                               {{"name", member.name},
                                {"role", member.role},
                                {"invitedBy", member.created_by},
                                {"aaguid", hex_encode(credential->aaguid)},
                                {"clientIp", client_ip}});
  if (!audited.ok()) return audited.take_error();
  return start_session(member);
}

Result<nlohmann::json> StaffService::sign_in_options(const std::string& client_ip) {
  const EpochMillis now = clock_.now_ms();
  LimitDecision decision = sign_in_limiter_.try_acquire(client_ip, now);
  if (!decision.allowed) {
    Error error = make_error(ErrorCode::kRateLimited, "too many sign-in attempts from this address");
    error.retry_after = decision.retry_after;
    return error;
  }
  const std::string challenge = random_bytes(random_, kChallengeBytes);
  LK_RETURN_IF_ERROR(store_.put_challenge(challenge, kSignInPurpose, "", now + millis(config_.challenge_ttl), now));
  return nlohmann::json{{"challenge", base64url_encode(challenge)},
                        {"rpId", config_.rp_id},
                        {"timeout", millis(config_.challenge_ttl)},
                        {"allowCredentials", nlohmann::json::array()},
                        {"userVerification", config_.require_user_verification ? "required" : "preferred"}};
}

Result<SignedIn> StaffService::sign_in(const webauthn::AssertionResponse& response, const std::string& client_ip) {
  const EpochMillis now = clock_.now_ms();
  std::string actor = "anonymous";
  std::string target;
  // Every refusal is counted and audited with its reason, then answered as the check's own error.
  auto refuse = [&](Error error) -> Result<SignedIn> {
    metrics_.counter("latchkey_staff_sign_ins_total", "Staff sign-in attempts", {{"outcome", "refused"}}).inc();
    log::warn("staff_sign_in_refused", {{"reason", error.message}, {"client_ip", client_ip}});
    auto audited = audit_.record(actor, "staff.sign_in_failed", target,
                                 {{"reason", error.message}, {"clientIp", client_ip}});
    if (!audited.ok()) return audited.take_error();
    return error;
  };
  auto challenge = webauthn::challenge_of(response.client_data_json);
  if (!challenge.ok()) return refuse(challenge.take_error());
  auto consumed = store_.consume_challenge(*challenge, kSignInPurpose, "", now);
  if (!consumed.ok()) return consumed.take_error();
  if (!*consumed) return refuse(make_error(ErrorCode::kUnauthorized, "the challenge is unknown, used or expired"));
  auto credential = store_.find_credential(response.credential_id);
  if (!credential.ok()) return credential.take_error();
  if (!credential->has_value()) return refuse(make_error(ErrorCode::kUnauthorized, "unknown credential"));
  const StaffCredential& c = **credential;
  actor = "staff:" + c.staff_id;
  target = c.staff_id;
  auto member = store_.find_member(c.staff_id);
  if (!member.ok()) return member.take_error();
  if (!member->has_value() || (*member)->disabled_at != 0)
    return refuse(make_error(ErrorCode::kUnauthorized, "this staff member is disabled"));
  auto verified = webauthn::verify_assertion(relying_party(), response, *challenge, c.public_key_cose, c.sign_count);
  if (!verified.ok()) return refuse(verified.take_error());
  Status counted = store_.update_sign_count(c.credential_id, verified->sign_count, now);
  if (!counted.ok()) {
    if (counted.error().code != ErrorCode::kConflict) return counted.take_error();
    return refuse(make_error(ErrorCode::kUnauthorized, "sign count did not advance (possible cloned authenticator)"));
  }
  metrics_.counter("latchkey_staff_sign_ins_total", "Staff sign-in attempts", {{"outcome", "signed_in"}}).inc();
  auto audited = audit_.record(actor, "staff.sign_in", c.staff_id,
                               {{"clientIp", client_ip}, {"userVerified", verified->user_verified}});
  if (!audited.ok()) return audited.take_error();
  return start_session(**member);
}

Result<SignedIn> StaffService::start_session(const StaffMember& member) {
  const EpochMillis now = clock_.now_ms();
  const std::string token = base64url_encode(random_bytes(random_, kTokenBytes));
  StaffSession session;
  session.token_hash = sha256(token);
  session.staff_id = member.id;
  session.created_at = now;
  session.expires_at = now + millis(config_.session_ttl);
  session.last_seen_at = now;
  LK_RETURN_IF_ERROR(store_.put_session(session));
  auto role = parse_role(member.role);
  SignedIn signed_in;
  signed_in.principal = StaffPrincipal{member.id, member.name, role.value_or(StaffRole::kViewer)};
  signed_in.cookie = cookie_value(token, millis(config_.session_ttl) / 1000);
  return signed_in;
}

Result<std::string> StaffService::sign_out(const HttpRequest& request) {
  const std::string token = staff_session_token(request);
  if (!token.empty()) {
    const std::string token_hash = sha256(token);
    auto session = store_.touch_session(token_hash, clock_.now_ms(), millis(config_.session_idle_timeout));
    if (!session.ok()) return session.take_error();
    LK_RETURN_IF_ERROR(store_.delete_session(token_hash));
    if (session->has_value()) {
      auto audited = audit_.record("staff:" + (*session)->staff_id, "staff.sign_out", (*session)->staff_id, {});
      if (!audited.ok()) return audited.take_error();
    }
  }
  return cookie_value("", 0);
}

Result<StaffPrincipal> StaffService::authorize(const HttpRequest& request, Permission permission) {
  const std::string token = staff_session_token(request);
  if (token.empty()) return make_error(ErrorCode::kUnauthorized, "sign in to the staff console first");
  auto session = store_.touch_session(sha256(token), clock_.now_ms(), millis(config_.session_idle_timeout));
  if (!session.ok()) return session.take_error();
  if (!session->has_value()) return make_error(ErrorCode::kUnauthorized, "the staff session ended; sign in again");
  auto member = store_.find_member((*session)->staff_id);
  if (!member.ok()) return member.take_error();
  if (!member->has_value() || (*member)->disabled_at != 0)
    return make_error(ErrorCode::kUnauthorized, "this staff member is disabled");
  if (request.method != "GET" && request.method != "HEAD") {
    const std::string* origin = request.header("origin");
    bool allowed = false;
    if (origin != nullptr)
      for (const auto& o : config_.origins) allowed = allowed || *origin == o;
    if (!allowed) return make_error(ErrorCode::kForbidden, "the request's Origin is not one of staff.origins");
  }
  auto role = parse_role((*member)->role);
  if (!role) return make_error(ErrorCode::kForbidden, "this staff member has no valid role");
  if (!role_allows(*role, permission))
    return make_error(ErrorCode::kForbidden, std::string("the role ") + role_name(*role) + " does not allow " +
                                                 permission_name(permission));
  return StaffPrincipal{(*member)->id, (*member)->name, *role};
}

Result<std::vector<StaffMember>> StaffService::members() { return store_.list_members(); }

Result<std::size_t> StaffService::active_members() { return store_.count_members(); }

Status StaffService::disable(const StaffPrincipal& by, const std::string& staff_id) {
  if (staff_id == by.staff_id) return make_error(ErrorCode::kForbidden, "staff cannot disable themselves");
  LK_RETURN_IF_ERROR(store_.disable_member(staff_id, clock_.now_ms()));
  auto audited = audit_.record(by.actor(), "staff.disable", staff_id, nlohmann::json::object());
  if (!audited.ok()) return audited.take_error();
  return {};
}

}  // namespace latchkey
