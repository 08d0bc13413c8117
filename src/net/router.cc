#include "net/router.h"

namespace latchkey {
namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  std::size_t start = 1;
  if (path.empty() || path[0] != '/') return parts;
  while (start <= path.size()) {
    std::size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    parts.push_back(path.substr(start, end - start));
    start = end + 1;
  }
  return parts;
}

}  // namespace

void Router::add(std::string method, std::string pattern, HandlerPool pool, Handler handler) {
  Route r{std::move(method), std::move(pattern), pool, std::move(handler), {}, {}, {}, {}};
  for (auto part : split_path(r.pattern)) r.segments.emplace_back(part);
  routes_.push_back(std::move(r));
}

void Router::add_async(std::string method, std::string pattern, HandlerPool pool, AsyncHandler handler,
                       InlineAttempt attempt) {
  Route r{std::move(method), std::move(pattern), pool, {}, std::move(handler), std::move(attempt), {}, {}};
  for (auto part : split_path(r.pattern)) r.segments.emplace_back(part);
  routes_.push_back(std::move(r));
}

void Router::add_websocket(std::string pattern, WebSocketAccept accept) {
  Route r{"GET", std::move(pattern), HandlerPool::kWorker, {}, {}, {}, std::move(accept), {}};
  for (auto part : split_path(r.pattern)) r.segments.emplace_back(part);
  routes_.push_back(std::move(r));
}

Router::Match Router::match(std::string_view method, std::string_view path) const {
  Match result;
  auto parts = split_path(path);
  for (const Route& r : routes_) {
    if (r.segments.size() != parts.size()) continue;
    std::vector<std::string> params;
    bool ok = true;
    for (std::size_t i = 0; i < parts.size() && ok; ++i) {
      const std::string& seg = r.segments[i];
      if (seg.size() >= 2 && seg.front() == '{' && seg.back() == '}') {
        if (parts[i].empty()) ok = false;
        else params.emplace_back(parts[i]);
      } else {
        ok = seg == parts[i];
      }
    }
    if (!ok) continue;
    if (r.method == method) {
      result.route = &r;
      result.params = std::move(params);
      return result;
    }
    if (!result.allowed_methods.empty()) result.allowed_methods += ", ";
    result.allowed_methods += r.method;
  }
  return result;
}

}  // namespace latchkey
