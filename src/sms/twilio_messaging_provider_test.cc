#include "sms/twilio_messaging_provider.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

namespace latchkey {
namespace {

constexpr char kAccountSid[] = "AC0123456789abcdef0123456789abcdef";
constexpr char kAuthToken[] = "fake-token-for-tests";
constexpr char kFrom[] = "+15005550006";

std::filesystem::path fake_twilio_script() {
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "tests" / "fakes" /
         "fake_twilio.py";
}

// The fake Twilio server (tests/fakes/fake_twilio.py) as a child process on a free loopback port.
class FakeTwilioProcess {
 public:
  // Starts the fake and waits for its "listening on PORT" line. Empty error on success.
  std::string start() {
    int out[2];
    if (::pipe2(out, O_CLOEXEC) != 0) return "pipe failed";
    std::string script = fake_twilio_script().string();
    // Built before fork: the child may only make async-signal-safe calls.
    std::vector<const char*> args = {"python3",   script.c_str(), "--port",   "0",    "--account-sid",
                                     kAccountSid, "--auth-token", kAuthToken, nullptr};
    pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) return "fork failed";
    if (pid_ == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);  // never outlive a crashed test binary
      if (::getppid() != parent) ::_exit(1);
      ::dup2(out[1], STDOUT_FILENO);
      ::execvp("python3", const_cast<char* const*>(args.data()));
      ::execv("/usr/bin/python3", const_cast<char* const*>(args.data()));
      ::_exit(127);
    }
    ::close(out[1]);
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (line.find('\n') == std::string::npos) {
      auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) break;
      pollfd fd{out[0], POLLIN, 0};
      if (::poll(&fd, 1, static_cast<int>(left.count())) <= 0) break;
      char buffer[128];
      ssize_t n = ::read(out[0], buffer, sizeof buffer);
      if (n <= 0) break;
      line.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(out[0]);
    const std::string prefix = "listening on ";
    if (line.rfind(prefix, 0) != 0) return "fake twilio did not start (" + script + "): '" + line + "'";
    port_ = std::stoi(line.substr(prefix.size()));
    return "";
  }

  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      int status = 0;
      ::waitpid(pid_, &status, 0);
      pid_ = -1;
    }
  }

  std::string base_url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

// A tiny HTTP client for the fake's control endpoints.
struct HttpReply {
  long status = 0;
  std::string body;
};

size_t append_to_string(char* data, size_t size, size_t count, void* user) {
  static_cast<std::string*>(user)->append(data, size * count);
  return size * count;
}

HttpReply http(const std::string& method, const std::string& url, const std::string& body = "") {
  HttpReply reply;
  CURL* curl = curl_easy_init();
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 5000L);
  if (method == "POST") {
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.c_str());
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  }
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_to_string);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  if (curl_easy_perform(curl) == CURLE_OK) curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  curl_easy_cleanup(curl);
  return reply;
}

class TwilioMessagingProviderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    curl_global_init(CURL_GLOBAL_DEFAULT);
    fake_ = new FakeTwilioProcess();
    start_error_ = new std::string(fake_->start());
  }
  static void TearDownTestSuite() {
    fake_->stop();
    delete fake_;
    delete start_error_;
    fake_ = nullptr;
    start_error_ = nullptr;
  }

  void SetUp() override {
    ASSERT_EQ(*start_error_, "");
    ASSERT_EQ(http("POST", fake_->base_url() + "/_control/reset").status, 200);
  }

  void set_mode(const std::string& mode) {
    ASSERT_EQ(http("POST", fake_->base_url() + "/_control/mode", mode).status, 200) << mode;
  }

  nlohmann::json received() {
    return nlohmann::json::parse(http("GET", fake_->base_url() + "/_control/messages").body);
  }

  SmsProviderConfig config() const {
    SmsProviderConfig config;
    config.name = "twilio";
    config.kind = "twilio-messaging";
    config.account_sid = kAccountSid;
    config.auth_token = kAuthToken;
    config.from = kFrom;
    config.api_base = fake_->base_url();
    config.timeout = std::chrono::milliseconds(3000);
    return config;
  }

  std::unique_ptr<TwilioMessagingProvider> provider(const SmsProviderConfig& config) {
    auto created = TwilioMessagingProvider::create(config);
    EXPECT_TRUE(created.ok()) << created.error().message;
    return created.ok() ? std::move(created.value()) : nullptr;
  }

  static OutgoingMessage message(std::string body = "Your Latchkey verification code is 424242.") {
    return OutgoingMessage{"+33612345678", "33", Transport::kSms, std::move(body)};
  }

  static FakeTwilioProcess* fake_;
  static std::string* start_error_;
};

FakeTwilioProcess* TwilioMessagingProviderTest::fake_ = nullptr;
std::string* TwilioMessagingProviderTest::start_error_ = nullptr;

TEST_F(TwilioMessagingProviderTest, SendsAndReturnsTheMessageSid) {
  auto twilio = provider(config());
  ASSERT_NE(twilio, nullptr);
  SendResult result = twilio->send(message());
  EXPECT_EQ(result.outcome, SendOutcome::kSent) << result.detail;
  EXPECT_EQ(result.provider_message_id.size(), 34u);
  EXPECT_EQ(result.provider_message_id.rfind("SM", 0), 0u);
  EXPECT_EQ(result.detail.find("424242"), std::string::npos);

  auto messages = received();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0]["To"], "+33612345678");
  EXPECT_EQ(messages[0]["From"], kFrom);
  EXPECT_EQ(messages[0]["Body"], "Your Latchkey verification code is 424242.");
  EXPECT_TRUE(messages[0]["MessagingServiceSid"].is_null());
  EXPECT_EQ(messages[0]["sid"], result.provider_message_id);
}

TEST_F(TwilioMessagingProviderTest, UsesMessagingServiceSidInsteadOfFrom) {
  SmsProviderConfig with_service = config();
  with_service.from.clear();
  with_service.messaging_service_sid = "MG0123456789abcdef0123456789abcdef";
  auto twilio = provider(with_service);
  ASSERT_NE(twilio, nullptr);
  EXPECT_EQ(twilio->send(message()).outcome, SendOutcome::kSent);
  auto messages = received();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0]["MessagingServiceSid"], "MG0123456789abcdef0123456789abcdef");
  EXPECT_TRUE(messages[0]["From"].is_null());
}

TEST_F(TwilioMessagingProviderTest, FormEncodingKeepsPlusAndNonAsciiIntact) {
  auto twilio = provider(config());
  ASSERT_NE(twilio, nullptr);
  const std::string body =
      "Latchkeyの認証コードは 123456 です。誰にも教えないでください。 1+1=2 & a=b %20 100% ;/?#";
  EXPECT_EQ(twilio->send(message(body)).outcome, SendOutcome::kSent);
  auto messages = received();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0]["To"], "+33612345678");
  EXPECT_EQ(messages[0]["Body"], body);
}

TEST_F(TwilioMessagingProviderTest, LongUnicodeBodyArrivesIntact) {
  auto twilio = provider(config());
  ASSERT_NE(twilio, nullptr);
  std::string body;
  for (int i = 0; i < 200; ++i) body += "認証";  // > 1 KiB once encoded
  EXPECT_EQ(twilio->send(message(body)).outcome, SendOutcome::kSent);
  auto messages = received();
  ASSERT_EQ(messages.size(), 1u);
  EXPECT_EQ(messages[0]["Body"], body);
}

class TwilioRefusalTest : public TwilioMessagingProviderTest, public ::testing::WithParamInterface<int> {};

TEST_P(TwilioRefusalTest, RefusalCodesAreRefused) {
  set_mode("twilio_error:" + std::to_string(GetParam()));
  auto twilio = provider(config());
  ASSERT_NE(twilio, nullptr);
  SendResult result = twilio->send(message());
  EXPECT_EQ(result.outcome, SendOutcome::kRefused) << result.detail;
  EXPECT_NE(result.detail.find("twilio error " + std::to_string(GetParam())), std::string::npos)
      << result.detail;
  EXPECT_EQ(result.detail.find("424242"), std::string::npos);
  EXPECT_TRUE(received().empty());
}

INSTANTIATE_TEST_SUITE_P(Codes, TwilioRefusalTest, ::testing::Values(30450, 60410, 60605, 21408));

class TwilioInvalidNumberTest : public TwilioMessagingProviderTest,
                                public ::testing::WithParamInterface<int> {};

TEST_P(TwilioInvalidNumberTest, InvalidNumberCodes) {
  set_mode("twilio_error:" + std::to_string(GetParam()));
  auto twilio = provider(config());
  ASSERT_NE(twilio, nullptr);
  SendResult result = twilio->send(message());
  EXPECT_EQ(result.outcome, SendOutcome::kInvalidNumber) << result.detail;
  EXPECT_NE(result.detail.find(std::to_string(GetParam())), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Codes, TwilioInvalidNumberTest, ::testing::Values(21211, 21614));

class TwilioRetryableTest : public TwilioMessagingProviderTest,
                            public ::testing::WithParamInterface<std::string> {};

TEST_P(TwilioRetryableTest, IsRetryable) {
  set_mode(GetParam());
  auto twilio = provider(config());
  ASSERT_NE(twilio, nullptr);
  SendResult result = twilio->send(message());
  EXPECT_EQ(result.outcome, SendOutcome::kRetryable) << result.detail;
  EXPECT_FALSE(result.detail.empty());
  EXPECT_EQ(result.detail.find("424242"), std::string::npos);
  EXPECT_TRUE(received().empty());
}

INSTANTIATE_TEST_SUITE_P(Modes, TwilioRetryableTest,
                         ::testing::Values("error_500", "twilio_error:20429", "twilio_error:21610",
                                           "garbage"),
                         [](const auto& info) {
                           std::string name = info.param;
                           for (char& c : name) {
                             if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
                           }
                           return name;
                         });

TEST_F(TwilioMessagingProviderTest, ServerErrorDetailNamesTheCode) {
  set_mode("error_500");
  auto twilio = provider(config());
  ASSERT_NE(twilio, nullptr);
  SendResult result = twilio->send(message());
  EXPECT_EQ(result.outcome, SendOutcome::kRetryable);
  EXPECT_NE(result.detail.find("20500"), std::string::npos) << result.detail;
}

TEST_F(TwilioMessagingProviderTest, TimeoutIsRetryableAndBounded) {
  set_mode("timeout");
  SmsProviderConfig fast = config();
  fast.timeout = std::chrono::milliseconds(300);
  auto twilio = provider(fast);
  ASSERT_NE(twilio, nullptr);
  auto started = std::chrono::steady_clock::now();
  SendResult result = twilio->send(message());
  auto elapsed = std::chrono::steady_clock::now() - started;
  EXPECT_EQ(result.outcome, SendOutcome::kRetryable);
  EXPECT_EQ(result.detail, "timeout after 300 ms");
  EXPECT_LT(elapsed, std::chrono::milliseconds(1500));
  EXPECT_GE(elapsed, std::chrono::milliseconds(250));
}

TEST_F(TwilioMessagingProviderTest, WrongAuthTokenIsRetryable) {
  SmsProviderConfig wrong = config();
  wrong.auth_token = "not-the-token";
  auto twilio = provider(wrong);
  ASSERT_NE(twilio, nullptr);
  SendResult result = twilio->send(message());
  EXPECT_EQ(result.outcome, SendOutcome::kRetryable);
  EXPECT_NE(result.detail.find("20003"), std::string::npos) << result.detail;
  EXPECT_TRUE(received().empty());
}

TEST_F(TwilioMessagingProviderTest, ConnectionRefusedIsRetryable) {
  // Port 1 (tcpmux) has no listener on a test machine.
  SmsProviderConfig nowhere = config();
  nowhere.api_base = "http://127.0.0.1:1";
  auto twilio = provider(nowhere);
  ASSERT_NE(twilio, nullptr);
  SendResult result = twilio->send(message());
  EXPECT_EQ(result.outcome, SendOutcome::kRetryable);
  EXPECT_EQ(result.detail.find("424242"), std::string::npos);
}

TEST_F(TwilioMessagingProviderTest, ReusesTheHandleAcrossSendsAndThreads) {
  auto twilio = provider(config());
  ASSERT_NE(twilio, nullptr);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 5; ++i) {
        OutgoingMessage m = message("thread " + std::to_string(t) + " message " + std::to_string(i));
        EXPECT_EQ(twilio->send(m).outcome, SendOutcome::kSent);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(received().size(), 20u);
}

TEST_F(TwilioMessagingProviderTest, TrailingSlashInApiBaseIsIgnored) {
  SmsProviderConfig slash = config();
  slash.api_base += "/";
  auto twilio = provider(slash);
  ASSERT_NE(twilio, nullptr);
  EXPECT_EQ(twilio->send(message()).outcome, SendOutcome::kSent);
}

TEST(TwilioMessagingProviderCreateTest, SmsOnly) {
  SmsProviderConfig config;
  config.name = "twilio";
  config.account_sid = kAccountSid;
  config.auth_token = kAuthToken;
  config.from = kFrom;
  auto twilio = TwilioMessagingProvider::create(config);
  ASSERT_TRUE(twilio.ok());
  EXPECT_EQ((*twilio)->name(), "twilio");
  EXPECT_TRUE((*twilio)->supports(Transport::kSms));
  EXPECT_FALSE((*twilio)->supports(Transport::kVoice));
  EXPECT_EQ((*twilio)->send({"+33612345678", "33", Transport::kVoice, "x"}).outcome, SendOutcome::kRetryable);
}

TEST(TwilioMessagingProviderCreateTest, RejectsIncompleteConfiguration) {
  SmsProviderConfig base;
  base.name = "tw";
  base.account_sid = kAccountSid;
  base.auth_token = kAuthToken;
  base.from = kFrom;

  SmsProviderConfig no_sid = base;
  no_sid.account_sid.clear();
  SmsProviderConfig no_token = base;
  no_token.auth_token.clear();
  SmsProviderConfig no_sender = base;
  no_sender.from.clear();
  SmsProviderConfig no_timeout = base;
  no_timeout.timeout = std::chrono::milliseconds(0);
  for (const auto& bad : {no_sid, no_token, no_sender, no_timeout}) {
    auto created = TwilioMessagingProvider::create(bad);
    ASSERT_FALSE(created.ok());
    EXPECT_EQ(created.error().code, ErrorCode::kInternal);
    EXPECT_NE(created.error().message.find("tw"), std::string::npos);
  }
}

}  // namespace
}  // namespace latchkey
