#include "net/request_metrics.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

namespace latchkey {
namespace {

HttpResponse ok(HttpRequest&) { return HttpResponse::json(200, 1); }

class RequestMetricsTest : public ::testing::Test {
 protected:
  RequestMetricsTest() {
    router_.add("GET", "/v1/accounts/{uuid}", HandlerPool::kWorker, ok);
    router_.add_async(
        "PUT", "/v1/messages/{uuid}", HandlerPool::kWorker, [](HttpRequest&, Responder) {},
        [](HttpRequest&, Responder&) { return false; });
  }

  // The value of one sample line of the registry's text output, or -1 when it is missing.
  double sample(const std::string& name_and_labels) const {
    const std::string text = registry_.render();
    const std::string prefix = name_and_labels + " ";
    std::size_t at = text.find("\n" + prefix);
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + 1 + prefix.size()));
  }

  const Route* route(const std::string& method, const std::string& path) const {
    return router_.match(method, path).route;
  }

  Router router_;
  MetricsRegistry registry_;
};

TEST_F(RequestMetricsTest, AMatchedRequestIsLabelledWithItsRoute) {
  RequestMetrics metrics(registry_, router_);
  const Route* get = route("GET", "/v1/accounts/abc");
  ASSERT_NE(get, nullptr);
  metrics.record(get, "GET", 200, 0.002);
  metrics.record(get, "GET", 200, 0.004);
  metrics.record(get, "GET", 404, 0.001);
  EXPECT_EQ(sample(R"(latchkey_http_requests_total{route="/v1/accounts/{uuid}",method="GET",status="200"})"),
            2);
  EXPECT_EQ(sample(R"(latchkey_http_requests_total{route="/v1/accounts/{uuid}",method="GET",status="404"})"),
            1);
  EXPECT_EQ(sample(R"(latchkey_http_request_seconds_count{route="/v1/accounts/{uuid}"})"), 3);
  EXPECT_NEAR(sample(R"(latchkey_http_request_seconds_sum{route="/v1/accounts/{uuid}"})"), 0.007, 1e-6);
}

TEST_F(RequestMetricsTest, InventedMethodsMakeNoNewSeries) {
  RequestMetrics metrics(registry_, router_);
  for (int i = 0; i < 100; ++i) metrics.record(nullptr, "XMETHOD" + std::to_string(i), 404, 0);
  metrics.record(nullptr, "DELETE", 405, 0);
  metrics.record(nullptr, "", 413, 0);
  EXPECT_EQ(sample(R"(latchkey_http_requests_total{route="unmatched",method="other",status="404"})"), 100);
  EXPECT_EQ(sample(R"(latchkey_http_requests_total{route="unmatched",method="DELETE",status="405"})"), 1);
  EXPECT_EQ(sample(R"(latchkey_http_requests_total{route="unmatched",method="?",status="413"})"), 1);
  EXPECT_EQ(registry_.render().find("XMETHOD"), std::string::npos);
  EXPECT_EQ(sample(R"(latchkey_http_request_seconds_count{route="unmatched"})"), 102);
}

TEST_F(RequestMetricsTest, OnlyRoutesWithAnInlineAttemptCountInlineAnswers) {
  RequestMetrics metrics(registry_, router_);
  const Route* put = route("PUT", "/v1/messages/x");
  ASSERT_NE(put, nullptr);
  metrics.count_inline(*put);
  metrics.count_inline(*put);
  EXPECT_EQ(sample(R"(latchkey_http_inline_requests_total{route="/v1/messages/{uuid}"})"), 2);
  EXPECT_EQ(registry_.render().find(R"(latchkey_http_inline_requests_total{route="/v1/accounts/{uuid}"})"),
            std::string::npos);
}

TEST_F(RequestMetricsTest, ARouteAddedLaterIsStillLabelledWithItsPattern) {
  RequestMetrics metrics(registry_, router_);
  Router later;
  later.add("POST", "/v1/later", HandlerPool::kWorker, ok);
  metrics.record(later.match("POST", "/v1/later").route, "POST", 201, 0);
  EXPECT_EQ(sample(R"(latchkey_http_requests_total{route="/v1/later",method="POST",status="201"})"), 1);
}

TEST_F(RequestMetricsTest, ConcurrentRequestsAreAllCounted) {
  RequestMetrics metrics(registry_, router_);
  const Route* get = route("GET", "/v1/accounts/abc");
  constexpr int kThreads = 4;
  constexpr int kEach = 5000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) metrics.record(get, "GET", 200 + (i + t) % 3, 0);
    });
  for (auto& thread : threads) thread.join();
  double total = 0;
  for (int status : {200, 201, 202}) {
    total += sample(R"(latchkey_http_requests_total{route="/v1/accounts/{uuid}",method="GET",status=")" +
                    std::to_string(status) + R"("})");
  }
  EXPECT_EQ(total, kThreads * kEach);
}

}  // namespace
}  // namespace latchkey
