// Errors as values for the client. Every fallible function returns Result<T> (or Status); main() is the one
// place that turns an Error into a message on stderr and an exit code (core/exit_codes.h).
#pragma once

#include <string>
#include <utility>
#include <variant>

#include <nlohmann/json.hpp>

namespace latchkey::client {

enum class ErrorKind {
  // The command line or an argument is wrong (bad number, bad URL, missing account in the store).
  kUsage,
  // The server could not be reached, the connection broke, or an answer was not HTTP/JSON.
  kNetwork,
  // An operation did not finish in time (link waiting for the primary, a socket read).
  kTimeout,
  // The server answered with a status the operation does not expect; http_status/code/body say which.
  kServer,
  // The server no longer accepts this device's credentials (401, or socket close 4401): the number was
  // registered again, the account was deleted, or the device was removed.
  kUnregistered,
  // The local store (SQLite) failed.
  kStore,
  // A cryptographic operation failed (bad key, message that does not decrypt, wrong PIN).
  kCrypto,
  // Registration is waiting out the takeover delay (202 pending_takeover).
  kPending,
};

struct Error {
  ErrorKind kind = ErrorKind::kServer;
  std::string message;         // one sentence for the user; never contains a key, password or plaintext
  int http_status = 0;         // when the error is an HTTP answer
  std::string code;            // the server's "error" field, when there was one
  nlohmann::json body = nullptr;  // the server's JSON body, when there was one
};

inline Error make_error(ErrorKind kind, std::string message) {
  Error e;
  e.kind = kind;
  e.message = std::move(message);
  return e;
}

// Holds a value or an Error. Reading the wrong alternative is a programming error (std::get throws).
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
  const T& operator*() const { return value(); }
  const Error& error() const { return std::get<1>(state_); }
  Error take_error() { return std::get<1>(std::move(state_)); }

 private:
  std::variant<T, Error> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), ok_(false) {}

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }
  Error take_error() { return std::move(error_); }

 private:
  Error error_;
  bool ok_ = true;
};

using Status = Result<void>;

inline Status ok_status() { return Status(); }

}  // namespace latchkey::client

// Propagates the error of a Result/Status expression out of the calling function.
#define LK_RETURN_IF_ERROR(expr)                  \
  do {                                            \
    auto lk_status_ = (expr);                     \
    if (!lk_status_.ok()) return lk_status_.take_error(); \
  } while (0)
