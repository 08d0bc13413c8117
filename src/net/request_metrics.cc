#include "net/request_metrics.h"

#include <algorithm>
#include <string>
#include <utility>

namespace latchkey {
namespace {

constexpr std::string_view kUnmatchedRoute = "unmatched";
// The method labels of unmatched requests: the standard methods, then any other token, then "refused before
// the method was read".
constexpr std::string_view kUnmatchedMethodLabels[] = {
    "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "CONNECT", "TRACE", "other", "?"};
constexpr std::size_t kOtherMethod = std::size(kUnmatchedMethodLabels) - 2;
constexpr std::size_t kMethodNotRead = std::size(kUnmatchedMethodLabels) - 1;

std::size_t unmatched_method_index(std::string_view method) {
  if (method.empty()) return kMethodNotRead;
  const auto* end = std::begin(kUnmatchedMethodLabels) + kOtherMethod;
  const auto* found = std::find(std::begin(kUnmatchedMethodLabels), end, method);
  return found == end ? kOtherMethod : static_cast<std::size_t>(found - std::begin(kUnmatchedMethodLabels));
}

}  // namespace

RequestMetrics::Series::Series(MetricsRegistry& registry, std::string route, std::string method,
                               bool counts_inline)
    : registry_(registry),
      route_(std::move(route)),
      method_(std::move(method)),
      seconds_(&registry.histogram("latchkey_http_request_seconds", "HTTP request latency by route",
                                   {{"route", route_}})) {
  if (counts_inline) {
    inline_requests_ =
        &registry.counter("latchkey_http_inline_requests_total",
                          "Requests handled on the I/O thread without a worker (credentials and the "
                          "other data they need were in memory)",
                          {{"route", route_}});
  }
}

Counter& RequestMetrics::Series::requests(int status) {
  auto lookup = [&]() -> Counter& {
    return registry_.counter("latchkey_http_requests_total", "HTTP requests by route, method and status",
                             {{"route", route_}, {"method", method_}, {"status", std::to_string(status)}});
  };
  if (status < kFirstStatus || status > kLastStatus) return lookup();
  std::atomic<Counter*>& slot = by_status_[static_cast<std::size_t>(status - kFirstStatus)];
  Counter* counter = slot.load(std::memory_order_acquire);
  if (counter == nullptr) {
    counter = &lookup();  // two threads may both look it up: the registry answers both with the same counter
    slot.store(counter, std::memory_order_release);
  }
  return *counter;
}

RequestMetrics::RequestMetrics(MetricsRegistry& registry, const Router& router) : registry_(registry) {
  for (const Route& route : router.routes()) {
    routes_.emplace(&route, std::make_unique<Series>(registry, route.pattern, route.method,
                                                     static_cast<bool>(route.inline_attempt)));
  }
  for (std::string_view method : kUnmatchedMethodLabels) {
    unmatched_.push_back(
        std::make_unique<Series>(registry, std::string(kUnmatchedRoute), std::string(method), false));
  }
}

RequestMetrics::Series& RequestMetrics::unmatched(std::string_view method) {
  return *unmatched_[unmatched_method_index(method)];
}

void RequestMetrics::record(const Route* route, std::string_view method, int status, double seconds) {
  if (route == nullptr) {
    Series& series = unmatched(method);
    series.requests(status).inc();
    series.seconds().observe(seconds);
    return;
  }
  auto it = routes_.find(route);
  if (it != routes_.end()) {
    it->second->requests(status).inc();
    it->second->seconds().observe(seconds);
    return;
  }
  // A route added after start-up: its metrics are looked up for each request.
  Series added_later(registry_, route->pattern, route->method, false);
  added_later.requests(status).inc();
  added_later.seconds().observe(seconds);
}

void RequestMetrics::count_inline(const Route& route) {
  auto it = routes_.find(&route);
  if (it != routes_.end()) {
    if (Counter* counter = it->second->inline_requests()) counter->inc();
    return;
  }
  Series added_later(registry_, route.pattern, route.method, true);
  added_later.inline_requests()->inc();
}

}  // namespace latchkey
