// The staff console (docs/api.md, "Staff console API"): WebAuthn enrollment and sign-in, staff management,
// masked account lookups, the audit log, and the console's own static files. Every endpoint except sign-in and
// enrollment checks the caller's session and role through StaffAuthorizer.
#include <charconv>

#include "core/encoding.h"
#include "net/api_routes.h"
#include "net/console_assets.h"
#include "net/request_parsing.h"
#include "net/staff_http.h"

namespace latchkey {
namespace {

constexpr std::size_t kMaxCredentialField = 16384;

Result<std::string> b64url_field(const nlohmann::json& object, const std::string& path, const char* key,
                                 bool required = true) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    if (!required) return std::string();
    return make_error(ErrorCode::kMalformedRequest, path + key + ": missing");
  }
  if (!it->is_string() || it->get_ref<const std::string&>().size() > kMaxCredentialField)
    return make_error(ErrorCode::kMalformedRequest, path + key + ": expected base64url text");
  auto decoded = base64url_decode(it->get_ref<const std::string&>());
  if (!decoded) return make_error(ErrorCode::kMalformedRequest, path + key + ": expected base64url text");
  return std::move(*decoded);
}

// The credential object as PublicKeyCredential.toJSON() shapes it: {id, rawId, type, response: {...}}.
Result<const nlohmann::json*> credential_response(const nlohmann::json& body, std::string* raw_id) {
  auto credential = body.find("credential");
  if (credential == body.end() || !credential->is_object())
    return make_error(ErrorCode::kMalformedRequest, "credential: expected the PublicKeyCredential as JSON");
  auto type = credential->find("type");
  if (type != credential->end() && (!type->is_string() || *type != "public-key"))
    return make_error(ErrorCode::kMalformedRequest, "credential.type: expected \"public-key\"");
  auto id = b64url_field(*credential, "credential.", "rawId");
  if (!id.ok()) return id.take_error();
  if (id->empty() || id->size() > 1023)
    return make_error(ErrorCode::kMalformedRequest, "credential.rawId: expected 1 to 1023 bytes");
  *raw_id = std::move(*id);
  auto response = credential->find("response");
  if (response == credential->end() || !response->is_object())
    return make_error(ErrorCode::kMalformedRequest, "credential.response: expected an object");
  return &*response;
}

const char* content_type_for(std::string_view path) {
  auto ends = [&](std::string_view suffix) {
    return path.size() >= suffix.size() && path.substr(path.size() - suffix.size()) == suffix;
  };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".json")) return "application/json";
  return "application/octet-stream";
}

HttpResponse console_file(std::string_view path) {
  for (const ConsoleAsset& asset : console_assets()) {
    if (asset.path != path) continue;
    HttpResponse response = HttpResponse::text(200, std::string(asset.content), content_type_for(path));
    add_console_security_headers(response);
    return response;
  }
  return staff_error(make_error(ErrorCode::kNotFound, "no such console file"));
}

nlohmann::json member_json(const StaffMember& m) {
  return {{"id", m.id},
          {"name", m.name},
          {"role", m.role},
          {"createdAt", m.created_at},
          {"createdBy", m.created_by},
          {"disabled", m.disabled_at != 0}};
}

nlohmann::json principal_json(const StaffPrincipal& p) {
  nlohmann::json permissions = nlohmann::json::array();
  for (Permission permission : {Permission::kViewAlerts, Permission::kViewProviders, Permission::kViewIncidents,
                                Permission::kLookupAccounts, Permission::kUnmaskNumbers, Permission::kManageProviders,
                                Permission::kManageIncidents, Permission::kManageStaff, Permission::kViewAudit})
    if (role_allows(p.role, permission)) permissions.push_back(permission_name(permission));
  return {{"id", p.staff_id}, {"name", p.name}, {"role", role_name(p.role)}, {"permissions", permissions}};
}

HttpResponse signed_in_response(const SignedIn& signed_in) {
  HttpResponse response = staff_json(200, {{"staff", principal_json(signed_in.principal)}});
  response.headers.emplace_back("Set-Cookie", signed_in.cookie);
  return response;
}

}  // namespace

void add_staff_routes(Router& router, StaffService& staff, AccountLookup& lookup, AuditLog& audit,
                      AlertEngine& alerts) {
  // ---- enrollment and sign-in (no session yet) ----
  router.add("POST", "/staff/api/enroll/options", HandlerPool::kWorker, [&staff](HttpRequest& request) {
    auto body = parse_json_object(request.body);
    if (!body.ok()) return staff_error(body.error());
    auto token = required_string(*body, "", "token", 128);
    if (!token.ok()) return staff_error(token.error());
    auto options = staff.enrollment_options(*token);
    if (!options.ok()) return staff_error(options.error());
    return staff_json(200, *options);
  });

  router.add("POST", "/staff/api/enroll", HandlerPool::kWorker, [&staff](HttpRequest& request) {
    auto body = parse_json_object(request.body);
    if (!body.ok()) return staff_error(body.error());
    auto token = required_string(*body, "", "token", 128);
    if (!token.ok()) return staff_error(token.error());
    std::string raw_id;
    auto response = credential_response(*body, &raw_id);
    if (!response.ok()) return staff_error(response.error());
    webauthn::RegistrationResponse registration;
    auto client_data = b64url_field(**response, "credential.response.", "clientDataJSON");
    if (!client_data.ok()) return staff_error(client_data.error());
    auto attestation = b64url_field(**response, "credential.response.", "attestationObject");
    if (!attestation.ok()) return staff_error(attestation.error());
    registration.client_data_json = std::move(*client_data);
    registration.attestation_object = std::move(*attestation);
    auto signed_in = staff.enroll(*token, registration, request.client_ip);
    if (!signed_in.ok()) return staff_error(signed_in.error());
    return signed_in_response(*signed_in);
  });

  router.add("POST", "/staff/api/sign-in/options", HandlerPool::kWorker, [&staff](HttpRequest& request) {
    auto options = staff.sign_in_options(request.client_ip);
    if (!options.ok()) return staff_error(options.error());
    return staff_json(200, *options);
  });

  router.add("POST", "/staff/api/sign-in", HandlerPool::kWorker, [&staff](HttpRequest& request) {
    auto body = parse_json_object(request.body);
    if (!body.ok()) return staff_error(body.error());
    webauthn::AssertionResponse assertion;
    auto response = credential_response(*body, &assertion.credential_id);
    if (!response.ok()) return staff_error(response.error());
    auto client_data = b64url_field(**response, "credential.response.", "clientDataJSON");
    if (!client_data.ok()) return staff_error(client_data.error());
    auto authenticator_data = b64url_field(**response, "credential.response.", "authenticatorData");
    if (!authenticator_data.ok()) return staff_error(authenticator_data.error());
    auto signature = b64url_field(**response, "credential.response.", "signature");
    if (!signature.ok()) return staff_error(signature.error());
    auto user_handle = b64url_field(**response, "credential.response.", "userHandle", false);
    if (!user_handle.ok()) return staff_error(user_handle.error());
    assertion.client_data_json = std::move(*client_data);
    assertion.authenticator_data = std::move(*authenticator_data);
    assertion.signature = std::move(*signature);
    assertion.user_handle = std::move(*user_handle);
    auto signed_in = staff.sign_in(assertion, request.client_ip);
    if (!signed_in.ok()) return staff_error(signed_in.error());
    return signed_in_response(*signed_in);
  });

  router.add("POST", "/staff/api/sign-out", HandlerPool::kWorker, [&staff](HttpRequest& request) {
    auto cookie = staff.sign_out(request);
    if (!cookie.ok()) return staff_error(cookie.error());
    HttpResponse response = staff_json(200, {{"signedOut", true}});
    response.headers.emplace_back("Set-Cookie", *cookie);
    return response;
  });

  // ---- the signed-in member ----
  router.add("GET", "/staff/api/me", HandlerPool::kWorker, [&staff](HttpRequest& request) {
    auto me = staff.authorize(request, Permission::kViewAlerts);
    if (!me.ok()) return staff_error(me.error());
    return staff_json(200, principal_json(*me));
  });

  // ---- staff management (admins) ----
  router.add("GET", "/staff/api/staff", HandlerPool::kWorker, [&staff](HttpRequest& request) {
    auto me = staff.authorize(request, Permission::kManageStaff);
    if (!me.ok()) return staff_error(me.error());
    auto members = staff.members();
    if (!members.ok()) return staff_error(members.error());
    nlohmann::json list = nlohmann::json::array();
    for (const auto& m : *members) list.push_back(member_json(m));
    return staff_json(200, {{"staff", list}});
  });

  router.add("POST", "/staff/api/staff/invites", HandlerPool::kWorker, [&staff](HttpRequest& request) {
    auto me = staff.authorize(request, Permission::kManageStaff);
    if (!me.ok()) return staff_error(me.error());
    auto body = parse_json_object(request.body);
    if (!body.ok()) return staff_error(body.error());
    auto name = required_string(*body, "", "name", 256);
    if (!name.ok()) return staff_error(name.error());
    auto role = required_string(*body, "", "role", 32);
    if (!role.ok()) return staff_error(role.error());
    auto link = staff.invite(me->actor(), *name, *role);
    if (!link.ok()) return staff_error(link.error());
    return staff_json(201, {{"url", link->url}, {"expiresAt", link->expires_at}});
  });

  router.add("POST", "/staff/api/staff/{id}/disable", HandlerPool::kWorker, [&staff](HttpRequest& request) {
    auto me = staff.authorize(request, Permission::kManageStaff);
    if (!me.ok()) return staff_error(me.error());
    Status disabled = staff.disable(*me, request.path_params[0]);
    if (!disabled.ok()) return staff_error(disabled.error());
    return staff_json(200, {{"disabled", true}});
  });

  // ---- account lookups (support) ----
  router.add("GET", "/staff/api/accounts", HandlerPool::kWorker, [&staff, &lookup](HttpRequest& request) {
    auto me = staff.authorize(request, Permission::kLookupAccounts);
    if (!me.ok()) return staff_error(me.error());
    const std::string q = query_parameter(request.query, "q");
    const std::string case_ref = query_parameter(request.query, "case");
    if (q.empty()) return staff_error(make_error(ErrorCode::kMalformedRequest, "q: expected a number or an account uuid"));
    if (case_ref.size() > 128) return staff_error(make_error(ErrorCode::kMalformedRequest, "case: at most 128 characters"));
    auto found = lookup.lookup(*me, q, case_ref);
    if (!found.ok()) return staff_error(found.error());
    return staff_json(200, *found);
  });

  router.add("POST", "/staff/api/accounts/{uuid}/unmask", HandlerPool::kWorker,
             [&staff, &lookup](HttpRequest& request) {
               auto me = staff.authorize(request, Permission::kUnmaskNumbers);
               if (!me.ok()) return staff_error(me.error());
               auto body = parse_json_object(request.body);
               if (!body.ok()) return staff_error(body.error());
               auto reason = required_string(*body, "", "reason", 2000);
               if (!reason.ok()) return staff_error(reason.error());
               auto number = lookup.unmask(*me, request.path_params[0], *reason);
               if (!number.ok()) return staff_error(number.error());
               return staff_json(200, *number);
             });

  // ---- anomaly alerts ----
  router.add("GET", "/staff/api/alerts", HandlerPool::kWorker, [&staff, &alerts](HttpRequest& request) {
    auto me = staff.authorize(request, Permission::kViewAlerts);
    if (!me.ok()) return staff_error(me.error());
    return staff_json(200, alerts.to_json());
  });

  // ---- the audit log (admins) ----
  router.add("GET", "/staff/api/audit", HandlerPool::kWorker, [&staff, &audit](HttpRequest& request) {
    auto me = staff.authorize(request, Permission::kViewAudit);
    if (!me.ok()) return staff_error(me.error());
    std::int64_t before = 0;
    int limit = 50;
    const std::string before_text = query_parameter(request.query, "before");
    const std::string limit_text = query_parameter(request.query, "limit");
    if (!before_text.empty()) {
      auto [p, ec] = std::from_chars(before_text.data(), before_text.data() + before_text.size(), before);
      if (ec != std::errc() || p != before_text.data() + before_text.size() || before < 0)
        return staff_error(make_error(ErrorCode::kMalformedRequest, "before: expected a sequence number"));
    }
    if (!limit_text.empty()) {
      auto [p, ec] = std::from_chars(limit_text.data(), limit_text.data() + limit_text.size(), limit);
      if (ec != std::errc() || p != limit_text.data() + limit_text.size() || limit < 1 || limit > 500)
        return staff_error(make_error(ErrorCode::kMalformedRequest, "limit: expected 1 to 500"));
    }
    auto entries = audit.list(before, limit);
    if (!entries.ok()) return staff_error(entries.error());
    nlohmann::json list = nlohmann::json::array();
    for (const AuditEntry& e : *entries)
      list.push_back({{"seq", e.seq},
                      {"at", e.at},
                      {"actor", e.actor},
                      {"action", e.action},
                      {"target", e.target},
                      {"details", e.details},
                      {"hash", hex_encode(e.hash)}});
    return staff_json(200, {{"entries", list}});
  });

  // ---- the console's static files ----
  router.add("GET", "/console", HandlerPool::kInline, [](HttpRequest&) {
    HttpResponse response = HttpResponse::text(308, "");
    response.headers.emplace_back("Location", "/console/");
    return response;
  });
  router.add("GET", "/console/", HandlerPool::kInline, [](HttpRequest&) { return console_file("index.html"); });
  router.add("GET", "/console/{file}", HandlerPool::kInline,
             [](HttpRequest& request) { return console_file(request.path_params[0]); });
  router.add("GET", "/console/{folder}/{file}", HandlerPool::kInline, [](HttpRequest& request) {
    return console_file(request.path_params[0] + "/" + request.path_params[1]);
  });
}

}  // namespace latchkey
