// A blocking WebSocket client (Boost.Beast) for the server's message and provisioning sockets: text frames,
// reads with a deadline, optional TLS, HTTP Basic credentials on the upgrade request.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "client/core/result.h"
#include "client/net/http_client.h"
#include "client/net/server_url.h"

namespace latchkey::client {

// Close codes the server uses (docs/api.md, "Close codes").
inline constexpr int kCloseNormal = 1000;
inline constexpr int kCloseGoingAway = 1001;
inline constexpr int kCloseDeviceUnregistered = 4401;
inline constexpr int kCloseConnectedElsewhere = 4409;

// Not thread-safe: one thread drives the connection. The Beast headers stay inside websocket_client.cc.
class WebSocketClient {
 public:
  // Opens ws(s)://host:port/path. Errors: kUnregistered when credentials were sent and the upgrade was
  // answered 401; kServer for any other refused upgrade; kNetwork/kTimeout when the connection failed.
  static Result<std::unique_ptr<WebSocketClient>> connect(const ServerUrl& server, std::string_view path,
                                                          const std::optional<Credentials>& credentials,
                                                          std::chrono::milliseconds timeout);
  ~WebSocketClient();
  WebSocketClient(const WebSocketClient&) = delete;
  WebSocketClient& operator=(const WebSocketClient&) = delete;

  // The next text frame, waiting at most `timeout`. kTimeout when none arrived: the connection stays usable
  // and the wait continues on the next call. When the server closed the socket: kUnregistered for 4401,
  // kNetwork otherwise; close_code()/close_reason() tell which close it was (0 when the TCP connection
  // simply broke).
  Result<std::string> read(std::chrono::milliseconds timeout);

  // Sends one text frame. kNetwork when the connection is gone.
  Status write(std::string_view text, std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Sends a normal close and waits briefly for the server's answer. Safe to call twice.
  void close();

  bool closed() const;
  int close_code() const;
  const std::string& close_reason() const;

 private:
  struct Impl;
  explicit WebSocketClient(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace latchkey::client
