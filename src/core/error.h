// Errors as values. Domain code returns Result<T> (or Status, a Result<void>) and never throws for an
// expected failure; net/error_mapping.cc is the one place that turns an ErrorCode into an HTTP reply.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include <nlohmann/json.hpp>

namespace latchkey {

// Every failure a caller may see. Each value has one machine code (see error_code_name) that clients
// read in the JSON "error" field; the HTTP status is chosen in net/error_mapping.cc.
enum class ErrorCode {
  // The request body is not JSON, or a field is missing or has the wrong type or range.
  kMalformedRequest,
  // The phone number cannot be parsed or is not a valid number for its country.
  kInvalidNumber,
  // The number's country calling code is not in verification.allowed_country_codes.
  kCountryNotAllowed,
  // The verification session id is unknown or the session expired.
  kSessionNotFound,
  // A code was requested before the proof-of-work gate was answered.
  kProofOfWorkRequired,
  // The proof-of-work nonce does not meet the difficulty, or no challenge is pending.
  kProofOfWorkInvalid,
  // The requested transport (sms or voice) is not offered to this session right now.
  kTransportNotOffered,
  // A code check arrived but no unexpired, unburned code is pending for the session.
  kNoActiveCode,
  // A code was requested for a session that is already verified.
  kSessionAlreadyVerified,
  // A limit was reached; retry_after says when to try again.
  kRateLimited,
  // Sends to this number's country calling code are paused by the SMS-pumping circuit breaker.
  kSmsPaused,
  // A provider refused the message for fraud or geographic permission reasons; no other is tried.
  kSmsRefused,
  // Every provider on the route failed, timed out, or was disabled.
  kSmsDeliveryFailed,
  // Missing or wrong credentials.
  kUnauthorized,
  // Registration named a session that is unknown or expired.
  kRegistrationSessionInvalid,
  // Registration named a session that has not been verified.
  kSessionNotVerified,
  // Registration named a session that was already used to register.
  kSessionAlreadyUsed,
  // Registration named a session verified for another number than the credentials' number.
  kSessionNumberMismatch,
  // The number's account has Registration Lock and the request did not carry the right lock token.
  // details: timeRemaining (ms until the lock lapses) and backupCredentials.
  kRegistrationLocked,
  // A registration by recovery password named a number without one, or the password is wrong.
  kRecoveryPasswordInvalid,
  // The owner's device refused the takeover this session was waiting for; the session is burned.
  kTakeoverDenied,
  // A backup restore used the wrong access key (wrong PIN). details: triesRemaining.
  kPinMismatch,
  // The resource (account, route, backup) does not exist.
  kNotFound,
  // The HTTP method is not allowed on this path.
  kMethodNotAllowed,
  // The request body exceeds server.max_body_bytes.
  kPayloadTooLarge,
  // A concurrent update won; the operation may be retried (storage-level, normally not surfaced).
  kConflict,
  // The caller is authenticated but not allowed to do this (a linked device acting as the primary, a used
  // or expired device link code).
  kForbidden,
  // A message's destination device list does not match the account's devices (details: missingDevices,
  // extraDevices).
  kMismatchedDevices,
  // A message names a registration id that is not the device's current one (details: staleDevices).
  kStaleDevices,
  // A dependency (storage) is unavailable or overloaded; the request may be retried.
  kUnavailable,
  // Anything unexpected: logged with details, answered without them.
  kInternal,
};

// The machine code sent as "error", e.g. "invalid_number".
const char* error_code_name(ErrorCode code);

struct Error {
  ErrorCode code = ErrorCode::kInternal;
  std::string message;                               // one human sentence, safe to show to the client
  std::optional<std::chrono::seconds> retry_after;   // set for kRateLimited and kSmsPaused
  nlohmann::json details = nullptr;                  // extra fields merged into the JSON error body
};

inline Error make_error(ErrorCode code, std::string message) { return Error{code, std::move(message), {}, nullptr}; }

// Holds either a value or an Error. Accessing the wrong alternative is a programming error (asserts).
template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() { return value(); }
  const Error& error() const { return std::get<1>(state_); }
  Error&& take_error() { return std::get<1>(std::move(state_)); }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)) {}
  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const { return *error_; }
  Error&& take_error() { return std::move(*error_); }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

}  // namespace latchkey

// Propagates an error from an expression returning Result/Status: LK_RETURN_IF_ERROR(store.put(x));
#define LK_RETURN_IF_ERROR(expr)                 \
  do {                                           \
    auto lk_status_ = (expr);                    \
    if (!lk_status_.ok()) return lk_status_.take_error(); \
  } while (0)
