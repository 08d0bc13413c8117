// WebSocket connections as the API code sees them, without Beast: a channel to write frames to (implemented by
// the server) and a session that receives them (implemented per endpoint, e.g. net/message_socket.cc).
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/error.h"
#include "net/http_types.h"

namespace latchkey {

// Close codes (docs/api.md, "The message socket").
constexpr int kCloseNormal = 1000;
constexpr int kCloseGoingAway = 1001;
constexpr int kCloseUnsupportedData = 1003;
constexpr int kCloseInternalError = 1011;
constexpr int kCloseDeviceUnregistered = 4401;
constexpr int kCloseConnectedElsewhere = 4409;

// The server's side of one connection. Thread-safe: every call may come from any thread.
class WebSocketChannel {
 public:
  virtual ~WebSocketChannel() = default;
  // Queues a text frame. Frames are written in order with one write in flight; after close() they are dropped.
  virtual void send(std::string text) = 0;
  // Sends a close frame with `code` once the frames queued before it are written. Idempotent.
  virtual void close(int code, std::string reason) = 0;
  // Runs `task` on the connection's I/O thread, serialised with the session's callbacks. Dropped once closed.
  virtual void post(std::function<void()> task) = 0;
  // Runs `task` on the worker pool (for storage calls).
  virtual void post_work(std::function<void()> task) = 0;
  // Runs `task` on the I/O thread after `delay`, unless the connection ended first.
  virtual void schedule(std::chrono::milliseconds delay, std::function<void()> task) = 0;
};

// One endpoint's behaviour on one connection. Callbacks run on the connection's I/O thread, one at a time, and
// must not block (hand storage work to channel.post_work).
class WebSocketSession {
 public:
  virtual ~WebSocketSession() = default;
  virtual void on_open() = 0;                        // after the handshake
  virtual void on_text(std::string_view frame) = 0;  // one whole text message
  virtual void on_closed() = 0;                      // once, when the connection ended for any reason
};

// Runs on the worker pool with the upgrade request, before the handshake. An error is answered as plain HTTP
// (for example 401) instead of upgrading.
using WebSocketAccept =
    std::function<Result<std::shared_ptr<WebSocketSession>>(HttpRequest&, std::shared_ptr<WebSocketChannel>)>;

}  // namespace latchkey
