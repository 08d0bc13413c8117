#include "sms/sms_router.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <thread>

namespace latchkey {
namespace {

// Answers each send with the next scripted outcome (the last one repeats) and records the calls.
class ScriptedProvider final : public SmsProvider {
 public:
  ScriptedProvider(std::string name, std::deque<SendOutcome> outcomes, bool voice = true,
                   std::string detail = "scripted")
      : name_(std::move(name)), outcomes_(std::move(outcomes)), voice_(voice), detail_(std::move(detail)) {}

  const std::string& name() const override { return name_; }
  bool supports(Transport transport) const override { return transport == Transport::kSms || voice_; }
  SendResult send(const OutgoingMessage& message) override {
    std::lock_guard lock(mutex_);
    ++calls_;
    last_to_ = message.to;
    SendOutcome outcome = outcomes_.front();
    if (outcomes_.size() > 1) outcomes_.pop_front();
    SendResult result;
    result.outcome = outcome;
    if (outcome == SendOutcome::kSent) result.provider_message_id = name_ + "-" + std::to_string(calls_);
    result.detail = detail_;
    return result;
  }
  int calls() const {
    std::lock_guard lock(mutex_);
    return calls_;
  }

 private:
  const std::string name_;
  mutable std::mutex mutex_;
  std::deque<SendOutcome> outcomes_;  // guarded by mutex_
  int calls_ = 0;                     // guarded by mutex_
  std::string last_to_;               // guarded by mutex_
  const bool voice_;
  const std::string detail_;
};

class ThrowingProvider final : public SmsProvider {
 public:
  const std::string& name() const override { return name_; }
  bool supports(Transport) const override { return true; }
  SendResult send(const OutgoingMessage&) override { throw std::runtime_error("boom"); }

 private:
  std::string name_ = "thrower";
};

class SmsRouterTest : public ::testing::Test {
 protected:
  // Adds a scripted provider and returns a pointer that stays valid while the router lives.
  ScriptedProvider* add(std::string name, std::deque<SendOutcome> outcomes, bool voice = true) {
    auto provider = std::make_unique<ScriptedProvider>(std::move(name), std::move(outcomes), voice);
    ScriptedProvider* raw = provider.get();
    providers_.push_back(std::move(provider));
    return raw;
  }
  std::unique_ptr<SmsRouter> build(SmsRoutingConfig routing) {
    return std::make_unique<SmsRouter>(std::move(providers_), std::move(routing), metrics_);
  }
  std::uint64_t sent_count(const std::string& provider, const std::string& outcome,
                           const std::string& transport = "sms") {
    return metrics_
        .counter("latchkey_sms_sent_total", "",
                 {{"provider", provider}, {"transport", transport}, {"outcome", outcome}})
        .value();
  }

  static OutgoingMessage message(std::string country = "33", Transport transport = Transport::kSms) {
    return OutgoingMessage{"+" + country + "612345678", country, transport, "Your code is 123456"};
  }

  MetricsRegistry metrics_;
  std::vector<std::unique_ptr<SmsProvider>> providers_;
};

TEST_F(SmsRouterTest, FirstProviderOnTheRouteDelivers) {
  auto* a = add("a", {SendOutcome::kSent});
  auto* b = add("b", {SendOutcome::kSent});
  auto router = build({{"a", "b"}, {}});
  auto receipt = router->send(message());
  ASSERT_TRUE(receipt.ok()) << receipt.error().message;
  EXPECT_EQ(receipt->provider, "a");
  EXPECT_EQ(receipt->provider_message_id, "a-1");
  EXPECT_EQ(a->calls(), 1);
  EXPECT_EQ(b->calls(), 0);
  EXPECT_EQ(sent_count("a", "sent"), 1u);
  EXPECT_EQ(metrics_.histogram("latchkey_sms_send_seconds", "", {{"provider", "a"}}).count(), 1u);
}

TEST_F(SmsRouterTest, RouteOrderIsHonoured) {
  auto* a = add("a", {SendOutcome::kSent});
  auto* b = add("b", {SendOutcome::kSent});
  auto router = build({{"b", "a"}, {}});
  auto receipt = router->send(message());
  ASSERT_TRUE(receipt.ok());
  EXPECT_EQ(receipt->provider, "b");
  EXPECT_EQ(a->calls(), 0);
  EXPECT_EQ(b->calls(), 1);
}

TEST_F(SmsRouterTest, FailsOverOnRetryable) {
  auto* a = add("a", {SendOutcome::kRetryable});
  auto* b = add("b", {SendOutcome::kRetryable});
  auto* c = add("c", {SendOutcome::kSent});
  auto router = build({{"a", "b", "c"}, {}});
  auto receipt = router->send(message());
  ASSERT_TRUE(receipt.ok());
  EXPECT_EQ(receipt->provider, "c");
  EXPECT_EQ(c->calls(), 1);
  EXPECT_EQ(a->calls(), 1);
  EXPECT_EQ(b->calls(), 1);
  EXPECT_EQ(sent_count("a", "retryable"), 1u);
  EXPECT_EQ(sent_count("b", "retryable"), 1u);
  EXPECT_EQ(sent_count("c", "sent"), 1u);
}

TEST_F(SmsRouterTest, AllRetryableIsDeliveryFailedNamingHowManyWereTried) {
  add("a", {SendOutcome::kRetryable});
  add("b", {SendOutcome::kRetryable});
  auto router = build({{"a", "b"}, {}});
  auto receipt = router->send(message());
  ASSERT_FALSE(receipt.ok());
  EXPECT_EQ(receipt.error().code, ErrorCode::kSmsDeliveryFailed);
  EXPECT_NE(receipt.error().message.find("2"), std::string::npos);
  EXPECT_EQ(receipt.error().message.find("123456"), std::string::npos);
}

TEST_F(SmsRouterTest, RefusedStopsTheWalk) {
  auto* a = add("a", {SendOutcome::kRefused});
  auto* b = add("b", {SendOutcome::kSent});
  auto router = build({{"a", "b"}, {}});
  auto receipt = router->send(message());
  ASSERT_FALSE(receipt.ok());
  EXPECT_EQ(receipt.error().code, ErrorCode::kSmsRefused);
  EXPECT_EQ(a->calls(), 1);
  EXPECT_EQ(b->calls(), 0);
  EXPECT_EQ(sent_count("a", "refused"), 1u);
}

TEST_F(SmsRouterTest, InvalidNumberStopsTheWalk) {
  add("a", {SendOutcome::kRetryable});
  auto* b = add("b", {SendOutcome::kInvalidNumber});
  auto* c = add("c", {SendOutcome::kSent});
  auto router = build({{"a", "b", "c"}, {}});
  auto receipt = router->send(message());
  ASSERT_FALSE(receipt.ok());
  EXPECT_EQ(receipt.error().code, ErrorCode::kInvalidNumber);
  EXPECT_EQ(b->calls(), 1);
  EXPECT_EQ(c->calls(), 0);
  EXPECT_EQ(sent_count("b", "invalid_number"), 1u);
}

TEST_F(SmsRouterTest, SkipsProvidersThatDoNotSupportTheTransport) {
  auto* sms_only = add("sms_only", {SendOutcome::kSent}, /*voice=*/false);
  auto* both = add("both", {SendOutcome::kSent});
  auto router = build({{"sms_only", "both"}, {}});
  auto receipt = router->send(message("33", Transport::kVoice));
  ASSERT_TRUE(receipt.ok());
  EXPECT_EQ(receipt->provider, "both");
  EXPECT_EQ(sms_only->calls(), 0);
  EXPECT_EQ(both->calls(), 1);
  EXPECT_EQ(sent_count("both", "sent", "voice"), 1u);
  EXPECT_TRUE(router->offers("33", Transport::kVoice));
}

TEST_F(SmsRouterTest, NoSuitableProviderIsDeliveryFailed) {
  add("sms_only", {SendOutcome::kSent}, /*voice=*/false);
  auto router = build({{"sms_only", "unknown"}, {}});
  EXPECT_FALSE(router->offers("33", Transport::kVoice));
  auto receipt = router->send(message("33", Transport::kVoice));
  ASSERT_FALSE(receipt.ok());
  EXPECT_EQ(receipt.error().code, ErrorCode::kSmsDeliveryFailed);
}

TEST_F(SmsRouterTest, PerCountryRouteOverridesTheDefault) {
  auto* a = add("a", {SendOutcome::kSent});
  auto* b = add("b", {SendOutcome::kSent});
  auto router = build({{"a"}, {{"81", {"b"}}}});
  auto japan = router->send(message("81"));
  ASSERT_TRUE(japan.ok());
  EXPECT_EQ(japan->provider, "b");
  auto france = router->send(message("33"));
  ASSERT_TRUE(france.ok());
  EXPECT_EQ(france->provider, "a");
  EXPECT_EQ(a->calls(), 1);
  EXPECT_EQ(b->calls(), 1);
}

TEST_F(SmsRouterTest, EmptyCountryRouteOffersNothing) {
  add("a", {SendOutcome::kSent});
  auto router = build({{"a"}, {{"7", {}}}});
  EXPECT_FALSE(router->offers("7", Transport::kSms));
  EXPECT_TRUE(router->offers("33", Transport::kSms));
  auto receipt = router->send(message("7"));
  ASSERT_FALSE(receipt.ok());
  EXPECT_EQ(receipt.error().code, ErrorCode::kSmsDeliveryFailed);
}

TEST_F(SmsRouterTest, SetEnabledTurnsProvidersOffAndOn) {
  auto* a = add("a", {SendOutcome::kSent});
  auto* b = add("b", {SendOutcome::kSent});
  auto router = build({{"a", "b"}, {}});
  EXPECT_FALSE(router->set_enabled("nope", false));

  ASSERT_TRUE(router->set_enabled("a", false));
  auto receipt = router->send(message());
  ASSERT_TRUE(receipt.ok());
  EXPECT_EQ(receipt->provider, "b");
  EXPECT_EQ(a->calls(), 0);

  ASSERT_TRUE(router->set_enabled("b", false));
  EXPECT_FALSE(router->offers("33", Transport::kSms));
  EXPECT_EQ(router->send(message()).error().code, ErrorCode::kSmsDeliveryFailed);

  ASSERT_TRUE(router->set_enabled("a", true));
  EXPECT_TRUE(router->offers("33", Transport::kSms));
  receipt = router->send(message());
  ASSERT_TRUE(receipt.ok());
  EXPECT_EQ(receipt->provider, "a");
  EXPECT_EQ(b->calls(), 1);
}

TEST_F(SmsRouterTest, ThrowingProviderCountsAsRetryable) {
  providers_.push_back(std::make_unique<ThrowingProvider>());
  add("b", {SendOutcome::kSent});
  auto router = build({{"thrower", "b"}, {}});
  auto receipt = router->send(message());
  ASSERT_TRUE(receipt.ok());
  EXPECT_EQ(receipt->provider, "b");
  EXPECT_EQ(sent_count("thrower", "retryable"), 1u);
}

TEST_F(SmsRouterTest, LogsNeitherTheBodyNorTheWholeNumber) {
  providers_.push_back(std::make_unique<ScriptedProvider>(
      "a", std::deque<SendOutcome>{SendOutcome::kRetryable}, true, "number +33612345678 is busy"));
  providers_.push_back(
      std::make_unique<ScriptedProvider>("b", std::deque<SendOutcome>{SendOutcome::kInvalidNumber}, true,
                                         "The 'To' number +33612345678 is bad"));
  auto router = build({{"a", "b"}, {}});
  ::testing::internal::CaptureStderr();
  auto receipt = router->send(message());
  std::string logged = ::testing::internal::GetCapturedStderr();
  ASSERT_FALSE(receipt.ok());
  EXPECT_NE(logged.find("sms_provider_failed"), std::string::npos) << logged;
  EXPECT_NE(logged.find("sms_invalid_number"), std::string::npos) << logged;
  EXPECT_NE(logged.find("+33*******78"), std::string::npos) << logged;
  EXPECT_EQ(logged.find("+33612345678"), std::string::npos) << logged;
  EXPECT_EQ(logged.find("123456"), std::string::npos) << logged;
}

TEST_F(SmsRouterTest, ConcurrentSendsAreCounted) {
  auto* a = add("a", {SendOutcome::kSent});
  auto router = build({{"a"}, {}});
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 100; ++i) EXPECT_TRUE(router->send(message()).ok());
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(a->calls(), 800);
  EXPECT_EQ(sent_count("a", "sent"), 800u);
}

class SmsRouterFromConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/latchkey_sms_router_test_XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  SmsProviderConfig outbox(std::string name) {
    SmsProviderConfig config;
    config.name = std::move(name);
    config.kind = "outbox";
    config.path = (dir_ / (config.name + ".jsonl")).string();
    return config;
  }

  std::filesystem::path dir_;
  MetricsRegistry metrics_;
};

TEST_F(SmsRouterFromConfigTest, BuildsOutboxAndTwilioProviders) {
  SmsConfig config;
  config.providers.push_back(outbox("dev"));
  SmsProviderConfig twilio;
  twilio.name = "twilio";
  twilio.kind = "twilio-messaging";
  twilio.account_sid = "AC0123456789abcdef0123456789abcdef";
  twilio.auth_token = "token";
  twilio.from = "+15005550006";
  config.providers.push_back(twilio);
  config.routing.default_route = {"twilio", "dev"};

  auto router = SmsRouter::from_config(config, metrics_);
  ASSERT_TRUE(router.ok()) << router.error().message;
  EXPECT_TRUE((*router)->offers("33", Transport::kVoice));  // the outbox handles voice
  ASSERT_TRUE((*router)->set_enabled("twilio", false));
  auto receipt = (*router)->send({"+33612345678", "33", Transport::kSms, "Your code is 123456"});
  ASSERT_TRUE(receipt.ok()) << receipt.error().message;
  EXPECT_EQ(receipt->provider, "dev");
  std::ifstream in(dir_ / "dev.jsonl");
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_NE(line.find("\"provider\":\"dev\""), std::string::npos);
}

TEST_F(SmsRouterFromConfigTest, HonoursEnabledFalse) {
  SmsConfig config;
  config.providers.push_back(outbox("off"));
  config.providers.back().enabled = false;
  config.routing.default_route = {"off"};
  auto router = SmsRouter::from_config(config, metrics_);
  ASSERT_TRUE(router.ok()) << router.error().message;
  EXPECT_FALSE((*router)->offers("33", Transport::kSms));
  EXPECT_TRUE((*router)->set_enabled("off", true));
  EXPECT_TRUE((*router)->offers("33", Transport::kSms));
}

TEST_F(SmsRouterFromConfigTest, FailsNamingTheProviderWhoseSetUpFailed) {
  SmsConfig config;
  config.providers.push_back(outbox("broken"));
  config.providers.back().path = dir_.string();  // a directory cannot be opened for appending
  auto router = SmsRouter::from_config(config, metrics_);
  ASSERT_FALSE(router.ok());
  EXPECT_EQ(router.error().code, ErrorCode::kInternal);
  EXPECT_NE(router.error().message.find("broken"), std::string::npos);

  SmsConfig twilio_config;
  SmsProviderConfig twilio;
  twilio.name = "twilio-no-sid";
  twilio.kind = "twilio-messaging";
  twilio.auth_token = "token";
  twilio.from = "+15005550006";
  twilio_config.providers.push_back(twilio);
  auto twilio_router = SmsRouter::from_config(twilio_config, metrics_);
  ASSERT_FALSE(twilio_router.ok());
  EXPECT_NE(twilio_router.error().message.find("twilio-no-sid"), std::string::npos);

  SmsConfig unknown_config;
  SmsProviderConfig unknown;
  unknown.name = "pigeon";
  unknown.kind = "carrier-pigeon";
  unknown_config.providers.push_back(unknown);
  auto unknown_router = SmsRouter::from_config(unknown_config, metrics_);
  ASSERT_FALSE(unknown_router.ok());
  EXPECT_NE(unknown_router.error().message.find("pigeon"), std::string::npos);
}

}  // namespace
}  // namespace latchkey
