#include "core/encoding.h"
#include "net/api_routes.h"
#include "net/request_parsing.h"

namespace latchkey {
namespace {

nlohmann::json optional_seconds(const std::optional<std::int64_t>& v) {
  return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
}

HttpResponse session_response(const Result<SessionStatus>& result) {
  if (!result.ok()) return HttpResponse::error(result.error());
  const SessionStatus& s = result.value();
  nlohmann::json body = {
      {"id", s.id},
      {"nextSms", optional_seconds(s.next_sms)},
      {"nextCall", optional_seconds(s.next_call)},
      {"nextVerificationAttempt", optional_seconds(s.next_verification_attempt)},
      {"allowedToRequestCode", s.allowed_to_request_code},
      {"requestedInformation", s.requested_information},
      {"verified", s.verified},
  };
  if (!s.pow_challenge.empty())
    body["proofOfWork"] = {{"algorithm", "sha256"}, {"challenge", base64url_encode(s.pow_challenge)}, {"bits", s.pow_bits}};
  return HttpResponse::json(200, body);
}

constexpr std::size_t kMaxNumberBytes = 64;
constexpr std::size_t kMaxSessionIdBytes = 64;

Result<std::string> session_id(const HttpRequest& request) {
  const std::string& id = request.path_params.at(0);
  if (id.size() > kMaxSessionIdBytes) return make_error(ErrorCode::kSessionNotFound, "verification session not found or expired");
  return id;
}

}  // namespace

void add_verification_routes(Router& router, VerificationService& verification) {
  router.add("POST", "/v1/verification/session", HandlerPool::kWorker, [&verification](HttpRequest& request) {
    auto body = parse_json_object(request.body);
    if (!body.ok()) return HttpResponse::error(body.error());
    auto number = required_string(*body, "", "number", kMaxNumberBytes);
    if (!number.ok()) return HttpResponse::error(number.error());
    return session_response(verification.create_session(*number, request.client_ip));
  });

  router.add("GET", "/v1/verification/session/{id}", HandlerPool::kWorker, [&verification](HttpRequest& request) {
    auto id = session_id(request);
    if (!id.ok()) return HttpResponse::error(id.error());
    return session_response(verification.get_session(*id));
  });

  router.add("PATCH", "/v1/verification/session/{id}", HandlerPool::kWorker, [&verification](HttpRequest& request) {
    auto id = session_id(request);
    if (!id.ok()) return HttpResponse::error(id.error());
    auto body = parse_json_object(request.body);
    if (!body.ok()) return HttpResponse::error(body.error());
    auto pow = body->find("proofOfWork");
    if (pow == body->end() || pow->is_null()) return session_response(verification.get_session(*id));
    if (!pow->is_object())
      return HttpResponse::error(make_error(ErrorCode::kMalformedRequest, "proofOfWork must be an object"));
    auto nonce = required_string(*pow, "proofOfWork", "nonce", 64);
    if (!nonce.ok()) return HttpResponse::error(nonce.error());
    return session_response(verification.submit_proof_of_work(*id, *nonce));
  });

  router.add("POST", "/v1/verification/session/{id}/code", HandlerPool::kOutbound, [&verification](HttpRequest& request) {
    auto id = session_id(request);
    if (!id.ok()) return HttpResponse::error(id.error());
    auto body = parse_json_object(request.body);
    if (!body.ok()) return HttpResponse::error(body.error());
    auto transport_name = required_string(*body, "", "transport", 16);
    if (!transport_name.ok()) return HttpResponse::error(transport_name.error());
    Transport transport;
    if (*transport_name == "sms") transport = Transport::kSms;
    else if (*transport_name == "voice") transport = Transport::kVoice;
    else return HttpResponse::error(make_error(ErrorCode::kMalformedRequest, "transport must be \"sms\" or \"voice\""));
    auto locale = optional_string(*body, "", "locale", 35);
    if (!locale.ok()) return HttpResponse::error(locale.error());
    std::string language = locale->value_or("");
    if (language.empty())
      if (const std::string* accept = request.header("accept-language"))
        language = accept->substr(0, std::min(accept->find_first_of(",;"), std::size_t{35}));
    return session_response(verification.request_code(*id, transport, language, request.client_ip));
  });

  router.add("PUT", "/v1/verification/session/{id}/code", HandlerPool::kWorker, [&verification](HttpRequest& request) {
    auto id = session_id(request);
    if (!id.ok()) return HttpResponse::error(id.error());
    auto body = parse_json_object(request.body);
    if (!body.ok()) return HttpResponse::error(body.error());
    auto code = required_string(*body, "", "code", 64);
    if (!code.ok()) return HttpResponse::error(code.error());
    return session_response(verification.check_code(*id, *code));
  });
}

}  // namespace latchkey
