// A small blocking HTTP/1.1 client (libcurl) for the server's REST API: JSON bodies, HTTP Basic credentials.
#pragma once

#include <chrono>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "client/core/result.h"
#include "client/net/server_url.h"

namespace latchkey::client {

struct Credentials {
  std::string username;  // "uuid.deviceId", a phone number at registration, or backup credentials
  std::string password;
};

struct HttpResponse {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // names in lower case
  nlohmann::json json;                         // the parsed body, or null when it is empty or not JSON

  // The server's machine error code ("rate_limited"), or "" when the body has none.
  std::string error_code() const;
};

// Not thread-safe: one instance per thread. Each request uses a fresh connection, so a broken one never
// poisons the next. Accepts any server certificate only when insecure_tls is set (tests, never by default).
class HttpClient {
 public:
  explicit HttpClient(ServerUrl server, std::chrono::seconds timeout = std::chrono::seconds(30));

  // Sends `method path` with `body` as JSON (no body when null). Every HTTP status is a successful Result;
  // kNetwork when no answer arrived, kTimeout when it took longer than the timeout.
  Result<HttpResponse> request(std::string_view method, std::string_view path, const nlohmann::json& body,
                               const std::optional<Credentials>& credentials) const;

  const ServerUrl& server() const { return server_; }

 private:
  ServerUrl server_;
  std::chrono::seconds timeout_;
};

// An Error for an unexpected answer: kUnregistered for 401 when the caller sent device credentials,
// otherwise kServer with the status, the machine code and the server's message.
Error unexpected_answer(const HttpResponse& response, std::string_view what, bool device_credentials = true);

// "Basic base64(username:password)".
std::string basic_authorization(const Credentials& credentials);

// Percent-encodes one path segment (keeps unreserved characters and '+').
std::string escape_path_segment(std::string_view segment);

}  // namespace latchkey::client
