// The server's base URL as the user gives it (--server http://127.0.0.1:8080), split for the HTTP and
// WebSocket clients.
#pragma once

#include <string>
#include <string_view>

#include "client/core/result.h"

namespace latchkey::client {

struct ServerUrl {
  bool tls = false;      // https / wss
  std::string host;      // "127.0.0.1", "chat.example.org"
  std::string port;      // "8080"; defaults to 80 / 443
  std::string text;      // normalised "http://host:port" without a trailing slash

  std::string http_url(std::string_view path) const { return text + std::string(path); }
};

// Accepts http://host[:port][/] and https://host[:port][/]. kUsage for anything else (paths other than "/",
// user info, other schemes).
Result<ServerUrl> parse_server_url(std::string_view text);

}  // namespace latchkey::client
