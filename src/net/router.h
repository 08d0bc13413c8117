// Maps (method, path) to a handler. Patterns are literal segments and {placeholders}, e.g.
// "/v1/verification/session/{id}/code". Routes are added at start-up; matching is then read-only and
// thread-safe.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "net/http_types.h"
#include "net/websocket.h"

namespace latchkey {

// Where a handler runs. Handlers never run on an I/O thread unless they are kInline (cheap, no blocking).
enum class HandlerPool {
  kInline,    // on the I/O thread: only for handlers that neither block nor touch storage
  kWorker,    // storage-bound work
  kOutbound,  // work that calls external providers (may block for seconds)
};

using Handler = std::function<HttpResponse(HttpRequest&)>;

// Answers exactly once, from any thread.
using Responder = std::function<void(HttpResponse)>;
// A handler that answers later (for example once a write is durable) without holding its thread meanwhile. It
// must call the responder exactly once; the request stays valid until then.
using AsyncHandler = std::function<void(HttpRequest&, Responder)>;
// Tried first, on the I/O thread, before an async handler is sent to its pool: for routes whose common case
// needs no storage read. Either answers through the responder (now or later) and returns true, or returns
// false without answering or changing the request, and the route's handler then runs on its pool as usual.
using InlineAttempt = std::function<bool(HttpRequest&, Responder&)>;

struct Route {
  std::string method;
  std::string pattern;  // also the metrics label
  HandlerPool pool = HandlerPool::kWorker;
  Handler handler;                    // one of handler, async_handler and websocket is set
  AsyncHandler async_handler;
  InlineAttempt inline_attempt;       // optional, with async_handler only
  WebSocketAccept websocket;          // GET only: the request must be a WebSocket upgrade
  std::vector<std::string> segments;  // pattern split on '/'
};

class Router {
 public:
  void add(std::string method, std::string pattern, HandlerPool pool, Handler handler);
  void add_async(std::string method, std::string pattern, HandlerPool pool, AsyncHandler handler,
                 InlineAttempt attempt = nullptr);
  // A WebSocket endpoint (GET). `accept` runs on the worker pool.
  void add_websocket(std::string pattern, WebSocketAccept accept);

  struct Match {
    const Route* route = nullptr;      // null when nothing matched
    std::vector<std::string> params;
    std::string allowed_methods;       // when the path matched but not the method: "GET, POST"
  };
  Match match(std::string_view method, std::string_view path) const;

  // Every route, in the order added. Adding a route may move them (pointers to routes stay valid only once
  // start-up has added them all).
  const std::vector<Route>& routes() const { return routes_; }

 private:
  std::vector<Route> routes_;
};

}  // namespace latchkey
