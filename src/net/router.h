// Maps (method, path) to a handler. Patterns are literal segments and {placeholders}, e.g.
// "/v1/verification/session/{id}/code". Routes are added at start-up; matching is then read-only and
// thread-safe.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "net/http_types.h"

namespace latchkey {

// Where a handler runs. Handlers never run on an I/O thread unless they are kInline (cheap, no blocking).
enum class HandlerPool {
  kInline,    // on the I/O thread: only for handlers that neither block nor touch storage
  kWorker,    // storage-bound work
  kOutbound,  // work that calls external providers (may block for seconds)
};

using Handler = std::function<HttpResponse(HttpRequest&)>;

struct Route {
  std::string method;
  std::string pattern;  // also the metrics label
  HandlerPool pool = HandlerPool::kWorker;
  Handler handler;
  std::vector<std::string> segments;  // pattern split on '/'
};

class Router {
 public:
  void add(std::string method, std::string pattern, HandlerPool pool, Handler handler);

  struct Match {
    const Route* route = nullptr;      // null when nothing matched
    std::vector<std::string> params;
    std::string allowed_methods;       // when the path matched but not the method: "GET, POST"
  };
  Match match(std::string_view method, std::string_view path) const;

 private:
  std::vector<Route> routes_;
};

}  // namespace latchkey
