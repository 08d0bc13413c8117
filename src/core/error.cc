#include "core/error.h"

namespace latchkey {

const char* error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::kMalformedRequest: return "malformed_request";
    case ErrorCode::kInvalidNumber: return "invalid_number";
    case ErrorCode::kCountryNotAllowed: return "country_not_allowed";
    case ErrorCode::kSessionNotFound: return "session_not_found";
    case ErrorCode::kProofOfWorkRequired: return "proof_of_work_required";
    case ErrorCode::kProofOfWorkInvalid: return "proof_of_work_invalid";
    case ErrorCode::kTransportNotOffered: return "transport_not_offered";
    case ErrorCode::kNoActiveCode: return "no_active_code";
    case ErrorCode::kSessionAlreadyVerified: return "session_already_verified";
    case ErrorCode::kRateLimited: return "rate_limited";
    case ErrorCode::kSmsPaused: return "sms_paused";
    case ErrorCode::kSmsRefused: return "sms_refused";
    case ErrorCode::kSmsDeliveryFailed: return "sms_delivery_failed";
    case ErrorCode::kUnauthorized: return "unauthorized";
    case ErrorCode::kRegistrationSessionInvalid: return "session_invalid";
    case ErrorCode::kSessionNotVerified: return "session_not_verified";
    case ErrorCode::kSessionAlreadyUsed: return "session_already_used";
    case ErrorCode::kSessionNumberMismatch: return "session_number_mismatch";
    case ErrorCode::kRegistrationLocked: return "registration_locked";
    case ErrorCode::kPinMismatch: return "pin_mismatch";
    case ErrorCode::kTakeoverDenied: return "takeover_denied";
    case ErrorCode::kRecoveryPasswordInvalid: return "recovery_password_invalid";
    case ErrorCode::kNotFound: return "not_found";
    case ErrorCode::kMethodNotAllowed: return "method_not_allowed";
    case ErrorCode::kPayloadTooLarge: return "payload_too_large";
    case ErrorCode::kConflict: return "conflict";
    case ErrorCode::kForbidden: return "forbidden";
    case ErrorCode::kMismatchedDevices: return "mismatched_devices";
    case ErrorCode::kStaleDevices: return "stale_devices";
    case ErrorCode::kUnavailable: return "unavailable";
    case ErrorCode::kInternal: return "internal_error";
  }
  return "internal_error";
}

}  // namespace latchkey
