#include "net/router.h"

#include <gtest/gtest.h>

namespace latchkey {
namespace {

TEST(RouterTest, MatchesLiteralsAndPlaceholders) {
  Router router;
  router.add("POST", "/v1/verification/session", HandlerPool::kWorker, [](HttpRequest&) { return HttpResponse::json(200, 1); });
  router.add("GET", "/v1/verification/session/{id}", HandlerPool::kWorker, [](HttpRequest&) { return HttpResponse::json(200, 2); });
  router.add("PATCH", "/v1/verification/session/{id}", HandlerPool::kWorker, [](HttpRequest&) { return HttpResponse::json(200, 3); });
  router.add("PUT", "/v1/verification/session/{id}/code", HandlerPool::kWorker, [](HttpRequest&) { return HttpResponse::json(200, 4); });

  auto m = router.match("GET", "/v1/verification/session/abc");
  ASSERT_TRUE(m.route);
  EXPECT_EQ(m.route->pattern, "/v1/verification/session/{id}");
  EXPECT_EQ(m.params, std::vector<std::string>{"abc"});

  m = router.match("PUT", "/v1/verification/session/x/code");
  ASSERT_TRUE(m.route);
  EXPECT_EQ(m.params, std::vector<std::string>{"x"});

  m = router.match("DELETE", "/v1/verification/session/abc");
  EXPECT_FALSE(m.route);
  EXPECT_EQ(m.allowed_methods, "GET, PATCH");

  EXPECT_FALSE(router.match("GET", "/v1/verification/session/").route);
  EXPECT_FALSE(router.match("GET", "/v1/verification/session/a/b/c").route);
  EXPECT_FALSE(router.match("GET", "").route);
  EXPECT_TRUE(router.match("GET", "/nope").allowed_methods.empty());
}

TEST(RouterTest, AnAsyncRouteKeepsItsHandlerAndItsInlineAttempt) {
  Router router;
  int attempts = 0, handled = 0;
  router.add_async(
      "PUT", "/v1/messages/{uuid}", HandlerPool::kWorker, [&](HttpRequest&, Responder) { ++handled; },
      [&](HttpRequest& request, Responder&) {
        ++attempts;
        return request.body == "inline";
      });
  router.add_async("PUT", "/v1/other", HandlerPool::kWorker, [&](HttpRequest&, Responder) { ++handled; });

  auto m = router.match("PUT", "/v1/messages/u");
  ASSERT_TRUE(m.route);
  ASSERT_TRUE(m.route->async_handler);
  ASSERT_TRUE(m.route->inline_attempt);
  EXPECT_FALSE(m.route->handler);
  HttpRequest request;
  Responder respond = [](HttpResponse) {};
  request.body = "inline";
  EXPECT_TRUE(m.route->inline_attempt(request, respond));
  request.body = "worker";
  EXPECT_FALSE(m.route->inline_attempt(request, respond));
  m.route->async_handler(request, respond);
  EXPECT_EQ(attempts, 2);
  EXPECT_EQ(handled, 1);

  m = router.match("PUT", "/v1/other");
  ASSERT_TRUE(m.route);
  EXPECT_TRUE(m.route->async_handler);
  EXPECT_FALSE(m.route->inline_attempt);
}

}  // namespace
}  // namespace latchkey
