// The HTTP server's request metrics: latchkey_http_requests_total{route, method, status},
// latchkey_http_request_seconds{route} and latchkey_http_inline_requests_total{route}.
//
// Each route's metrics are looked up in the registry once (a registry lookup takes its one mutex and builds
// the label strings), at construction for the histogram and the inline counter, and at a status's first use
// for its counter; after that a request costs an atomic load and two atomic additions.
//
// Labels stay bounded whatever clients send. A request that matched a route is labelled with the route's
// pattern and method. Anything else (404, 405, and requests refused before routing) has route "unmatched" and
// a method from a fixed list: the standard HTTP methods, "other" for any other token, and "?" when the
// request was refused before its method was read. A client that invents methods cannot make new series.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "metrics/metrics.h"
#include "net/router.h"

namespace latchkey {

// Thread-safe. The router's routes must all be added before construction (they are, at start-up) and outlive
// this object.
class RequestMetrics {
 public:
  RequestMetrics(MetricsRegistry& registry, const Router& router);
  RequestMetrics(const RequestMetrics&) = delete;
  RequestMetrics& operator=(const RequestMetrics&) = delete;

  // Counts an answered request and observes its latency. `route` is the route it matched, or null; `method`
  // is the request's (ignored for a route, which has its own; empty when the request was refused before its
  // method was read).
  void record(const Route* route, std::string_view method, int status, double seconds);

  // Counts a request that its route answered on the I/O thread (Route::inline_attempt).
  void count_inline(const Route& route);

 private:
  // The metrics of one (route label, method label).
  class Series {
   public:
    Series(MetricsRegistry& registry, std::string route, std::string method, bool counts_inline);
    Counter& requests(int status);
    Histogram& seconds() { return *seconds_; }
    Counter* inline_requests() { return inline_requests_; }

   private:
    static constexpr int kFirstStatus = 100;
    static constexpr int kLastStatus = 599;

    MetricsRegistry& registry_;
    const std::string route_;
    const std::string method_;
    Histogram* seconds_;
    Counter* inline_requests_ = nullptr;  // only for routes with an inline attempt
    // Filled at each status's first use; statuses outside 100-599 are looked up every time.
    std::array<std::atomic<Counter*>, kLastStatus - kFirstStatus + 1> by_status_{};
  };

  Series& unmatched(std::string_view method);

  MetricsRegistry& registry_;
  std::unordered_map<const Route*, std::unique_ptr<Series>> routes_;  // read-only after construction
  std::vector<std::unique_ptr<Series>> unmatched_;  // one per label of kUnmatchedMethodLabels
};

}  // namespace latchkey
