#include "net/error_mapping.h"

#include <algorithm>

#include "net/http_types.h"

namespace latchkey {

int http_status_for(ErrorCode code) {
  switch (code) {
    case ErrorCode::kMalformedRequest: return 400;
    case ErrorCode::kInvalidNumber: return 400;
    case ErrorCode::kTransportNotOffered: return 400;
    case ErrorCode::kUnauthorized: return 401;
    case ErrorCode::kRegistrationSessionInvalid: return 401;
    case ErrorCode::kCountryNotAllowed: return 403;
    case ErrorCode::kProofOfWorkInvalid: return 403;
    case ErrorCode::kSmsRefused: return 403;
    case ErrorCode::kSessionNotVerified: return 403;
    case ErrorCode::kSessionAlreadyUsed: return 403;
    case ErrorCode::kSessionNumberMismatch: return 403;
    case ErrorCode::kPinMismatch: return 403;
    case ErrorCode::kTakeoverDenied: return 403;
    case ErrorCode::kRecoveryPasswordInvalid: return 403;
    case ErrorCode::kRegistrationLocked: return 423;
    case ErrorCode::kSessionNotFound: return 404;
    case ErrorCode::kNotFound: return 404;
    case ErrorCode::kMethodNotAllowed: return 405;
    case ErrorCode::kProofOfWorkRequired: return 409;
    case ErrorCode::kNoActiveCode: return 409;
    case ErrorCode::kSessionAlreadyVerified: return 409;
    case ErrorCode::kConflict: return 409;
    case ErrorCode::kForbidden: return 403;
    case ErrorCode::kMismatchedDevices: return 409;
    case ErrorCode::kStaleDevices: return 410;
    case ErrorCode::kPayloadTooLarge: return 413;
    case ErrorCode::kRateLimited: return 429;
    case ErrorCode::kSmsPaused: return 429;
    case ErrorCode::kInternal: return 500;
    case ErrorCode::kSmsDeliveryFailed: return 502;
    case ErrorCode::kUnavailable: return 503;
  }
  return 500;
}

HttpResponse HttpResponse::error(const Error& error) {
  int status = http_status_for(error.code);
  nlohmann::json body = nlohmann::json::object();
  if (error.details.is_object()) body = error.details;
  body["error"] = error_code_name(error.code);
  // Internal failures are logged in full by the caller; the client gets no details.
  body["message"] = status >= 500 && error.code != ErrorCode::kSmsDeliveryFailed && error.code != ErrorCode::kUnavailable
                        ? "the server failed to handle the request"
                        : error.message;
  HttpResponse response = json(status, body);
  if (status == 429 || error.retry_after) {
    auto seconds = error.retry_after ? std::max<long long>(1, error.retry_after->count()) : 1;
    response.headers.emplace_back("Retry-After", std::to_string(seconds));
  }
  if (status == 401) response.headers.emplace_back("WWW-Authenticate", "Basic realm=\"latchkey\"");
  return response;
}

}  // namespace latchkey
