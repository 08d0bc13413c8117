// Responses of the staff console's endpoints: never cached, never framed, and without the Basic-auth challenge
// that the device API sends with 401 (a browser would pop up a password dialog). The console's static files get
// a strict Content-Security-Policy: scripts and styles only from the server itself, nothing inline.
#pragma once

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "net/http_types.h"

namespace latchkey {

inline constexpr const char* kConsoleContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

inline void add_console_security_headers(HttpResponse& response) {
  response.headers.emplace_back("Content-Security-Policy", kConsoleContentSecurityPolicy);
  response.headers.emplace_back("X-Content-Type-Options", "nosniff");
  response.headers.emplace_back("X-Frame-Options", "DENY");
  response.headers.emplace_back("Referrer-Policy", "no-referrer");
  response.headers.emplace_back("Cache-Control", "no-store");
}

inline HttpResponse staff_json(int status, const nlohmann::json& body) {
  HttpResponse response = HttpResponse::json(status, body);
  add_console_security_headers(response);
  return response;
}

inline HttpResponse staff_error(const Error& error) {
  HttpResponse response = HttpResponse::error(error);
  std::erase_if(response.headers, [](const auto& h) { return h.first == "WWW-Authenticate"; });
  add_console_security_headers(response);
  return response;
}

}  // namespace latchkey
