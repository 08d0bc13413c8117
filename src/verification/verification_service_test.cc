#include "verification/verification_service.h"

#include <atomic>
#include <filesystem>
#include <mutex>
#include <regex>
#include <thread>

#include <gtest/gtest.h>

#include "crypto/proof_of_work.h"
#include "storage/fault_injecting_storage.h"
#include "storage/storage.h"
#include "storage/test_storage.h"

namespace latchkey {
namespace {

constexpr char kNumber[] = "+33612345678";

// A provider that records messages, or fails when told to.
class RecordingProvider final : public SmsProvider {
 public:
  explicit RecordingProvider(std::string name) : name_(std::move(name)) {}
  const std::string& name() const override { return name_; }
  bool supports(Transport) const override { return true; }
  SendResult send(const OutgoingMessage& m) override {
    std::lock_guard lock(mutex_);
    if (fail_) return {SendOutcome::kRetryable, "", "told to fail"};
    messages_.push_back(m);
    return {SendOutcome::kSent, "id" + std::to_string(messages_.size()), ""};
  }
  std::string last_code() {
    std::lock_guard lock(mutex_);
    std::smatch m;
    std::regex_search(messages_.back().body, m, std::regex("\\d{6}"));
    return m.str();
  }
  std::size_t count() {
    std::lock_guard lock(mutex_);
    return messages_.size();
  }
  void set_fail(bool f) {
    std::lock_guard lock(mutex_);
    fail_ = f;
  }

 private:
  std::string name_;
  std::mutex mutex_;
  std::vector<OutgoingMessage> messages_;
  bool fail_ = false;
};

class VerificationServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(initialize_crypto());
    dir_ = fresh_test_dir("verif");
    auto opened = open_test_storage(dir_);
    ASSERT_TRUE(opened);
    storage_ = std::make_unique<FaultInjectingStorage>(std::move(opened));
    auto provider = std::make_unique<RecordingProvider>("rec");
    provider_ = provider.get();
    std::vector<std::unique_ptr<SmsProvider>> providers;
    providers.push_back(std::move(provider));
    SmsRoutingConfig routing;
    routing.default_route = {"rec"};
    sms_ = std::make_unique<SmsRouter>(std::move(providers), routing, metrics_);
    config_.proof_of_work_bits = 4;
    Rebuild();
  }
  void TearDown() override {
    service_.reset();
    storage_->close();
    std::filesystem::remove_all(dir_);
  }
  void Rebuild() {
    limits_ = std::make_unique<Limits>(limits_config_, metrics_);
    breaker_ = std::make_unique<SmsPumpingBreaker>(limits_config_.sms_pumping, metrics_);
    service_ = std::make_unique<VerificationService>(config_, storage_->sessions(), *sms_, *limits_, *breaker_, clock_,
                                                     random_, metrics_, std::string(32, 'k'));
  }
  // Creates a session and passes the gate.
  std::string OpenSession(const std::string& number = kNumber) {
    auto s = service_->create_session(number, "10.0.0.1");
    EXPECT_TRUE(s.ok()) << s.error().message;
    auto nonce = solve_proof_of_work(s->pow_challenge, s->pow_bits);
    auto passed = service_->submit_proof_of_work(s->id, *nonce);
    EXPECT_TRUE(passed.ok());
    return s->id;
  }
  std::string SendCode(const std::string& id) {
    auto r = service_->request_code(id, Transport::kSms, "en", "10.0.0.1");
    EXPECT_TRUE(r.ok()) << r.error().message;
    return provider_->last_code();
  }
  std::string WrongCode(const std::string& right) { return right == "000000" ? "111111" : "000000"; }

  std::filesystem::path dir_;
  ManualClock clock_;
  SodiumRandom random_;
  MetricsRegistry metrics_;
  VerificationConfig config_;
  LimitsConfig limits_config_;
  std::unique_ptr<FaultInjectingStorage> storage_;
  RecordingProvider* provider_ = nullptr;
  std::unique_ptr<SmsRouter> sms_;
  std::unique_ptr<Limits> limits_;
  std::unique_ptr<SmsPumpingBreaker> breaker_;
  std::unique_ptr<VerificationService> service_;
};

TEST_F(VerificationServiceTest, GateMustBeAnsweredBeforeACode) {
  auto s = service_->create_session(kNumber, "10.0.0.1");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->requested_information, std::vector<std::string>{"proofOfWork"});
  EXPECT_FALSE(s->allowed_to_request_code);
  EXPECT_FALSE(s->next_sms);
  auto early = service_->request_code(s->id, Transport::kSms, "en", "ip");
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().code, ErrorCode::kProofOfWorkRequired);
  EXPECT_EQ(provider_->count(), 0u);

  std::string bad = "0";
  while (proof_of_work_valid(s->pow_challenge, bad, s->pow_bits)) bad = std::to_string(std::stoi(bad) + 1);
  auto wrong = service_->submit_proof_of_work(s->id, bad);
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ErrorCode::kProofOfWorkInvalid);
  auto malformed = service_->submit_proof_of_work(s->id, "12ab");
  ASSERT_FALSE(malformed.ok());
  EXPECT_EQ(malformed.error().code, ErrorCode::kMalformedRequest);

  auto passed = service_->submit_proof_of_work(s->id, *solve_proof_of_work(s->pow_challenge, s->pow_bits));
  ASSERT_TRUE(passed.ok());
  EXPECT_TRUE(passed->requested_information.empty());
  EXPECT_TRUE(passed->allowed_to_request_code);
  EXPECT_EQ(passed->next_sms, 0);
  EXPECT_FALSE(passed->next_call);  // voice only after a first SMS
}

TEST_F(VerificationServiceTest, RightCodeVerifiesAndIsStoredOnlyAsAHash) {
  std::string id = OpenSession();
  std::string code = SendCode(id);
  auto stored = storage_->sessions().find(id);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_FALSE((*stored)->code_hash.empty());
  EXPECT_EQ((*stored)->code_hash.find(code), std::string::npos);
  EXPECT_EQ((*stored)->last_provider, "rec");

  auto wrong = service_->check_code(id, WrongCode(code));
  ASSERT_TRUE(wrong.ok());
  EXPECT_FALSE(wrong->verified);
  auto right = service_->check_code(id, code);
  ASSERT_TRUE(right.ok());
  EXPECT_TRUE(right->verified);
  EXPECT_FALSE(right->allowed_to_request_code);
  auto again = service_->request_code(id, Transport::kSms, "en", "ip");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kSessionAlreadyVerified);
}

TEST_F(VerificationServiceTest, WrongGuessesBurnTheCode) {
  std::string id = OpenSession();
  std::string code = SendCode(id);
  for (int i = 0; i < config_.max_code_attempts; ++i) {
    auto r = service_->check_code(id, WrongCode(code));
    ASSERT_TRUE(r.ok());
    EXPECT_FALSE(r->verified);
  }
  auto after = service_->check_code(id, code);
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().code, ErrorCode::kNoActiveCode);
}

TEST_F(VerificationServiceTest, ConcurrentGuessesNeverExceedTheLimit) {
  std::string id = OpenSession();
  std::string code = SendCode(id);
  std::atomic<int> counted{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 8; ++t)
    threads.emplace_back([&] {
      for (int i = 0; i < 5; ++i) {
        auto r = service_->check_code(id, WrongCode(code));
        if (r.ok()) counted++;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(counted.load(), config_.max_code_attempts);
  EXPECT_FALSE(service_->check_code(id, code).ok());
}

TEST_F(VerificationServiceTest, CodesExpire) {
  std::string id = OpenSession();
  std::string code = SendCode(id);
  clock_.advance(config_.code_ttl);
  auto r = service_->check_code(id, code);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kNoActiveCode);
}

TEST_F(VerificationServiceTest, SessionsExpire) {
  std::string id = OpenSession();
  clock_.advance(config_.session_ttl);
  auto r = service_->get_session(id);
  clock_.advance(std::chrono::milliseconds(1));  // purging takes sessions that expired strictly before now
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kSessionNotFound);
  auto purged = service_->purge_expired(100);
  ASSERT_TRUE(purged.ok());
  EXPECT_EQ(*purged, 1);
}

TEST_F(VerificationServiceTest, ResendsWaitGrowingDelays) {
  std::string id = OpenSession();
  SendCode(id);
  auto soon = service_->request_code(id, Transport::kSms, "en", "ip");
  ASSERT_FALSE(soon.ok());
  EXPECT_EQ(soon.error().code, ErrorCode::kRateLimited);
  EXPECT_EQ(soon.error().retry_after, std::chrono::seconds(60));
  clock_.advance(std::chrono::seconds(60));
  SendCode(id);
  auto s = service_->get_session(id);
  EXPECT_EQ(s->next_sms, 120);
  EXPECT_EQ(s->next_call, 120);  // a first call waits as long as the next SMS would
  clock_.advance(std::chrono::seconds(120));
  auto voice = service_->request_code(id, Transport::kVoice, "fr", "ip");
  ASSERT_TRUE(voice.ok()) << voice.error().message;
  EXPECT_EQ(voice->next_call, 60);
}

TEST_F(VerificationServiceTest, VoiceIsNotOfferedBeforeAnSms) {
  std::string id = OpenSession();
  auto r = service_->request_code(id, Transport::kVoice, "en", "ip");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kTransportNotOffered);
}

TEST_F(VerificationServiceTest, FailedDeliveryReleasesTheReservation) {
  std::string id = OpenSession();
  provider_->set_fail(true);
  auto r = service_->request_code(id, Transport::kSms, "en", "ip");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kSmsDeliveryFailed);
  provider_->set_fail(false);
  auto retry = service_->request_code(id, Transport::kSms, "en", "ip");  // not "too soon"
  ASSERT_TRUE(retry.ok()) << retry.error().message;
}

TEST_F(VerificationServiceTest, StorageFailureIsReportedNotHidden) {
  std::string id = OpenSession();
  storage_->fail_all_writes(true);
  auto r = service_->request_code(id, Transport::kSms, "en", "ip");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(provider_->count(), 0u);  // nothing sent when the reservation could not be stored
  storage_->fail_all_writes(false);
}

TEST_F(VerificationServiceTest, RegistrationConsumesAVerifiedSessionOnce) {
  std::string id = OpenSession();
  auto unverified = service_->consume_for_registration(id, kNumber);
  ASSERT_FALSE(unverified.ok());
  EXPECT_EQ(unverified.error().code, ErrorCode::kSessionNotVerified);
  ASSERT_TRUE(service_->check_code(id, SendCode(id))->verified);
  auto other = service_->consume_for_registration(id, "+33699999999");
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, ErrorCode::kSessionNumberMismatch);
  EXPECT_TRUE(service_->consume_for_registration(id, kNumber).ok());
  auto twice = service_->consume_for_registration(id, kNumber);
  ASSERT_FALSE(twice.ok());
  EXPECT_EQ(twice.error().code, ErrorCode::kSessionAlreadyUsed);
  auto unknown = service_->consume_for_registration("nope", kNumber);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::kRegistrationSessionInvalid);
}

TEST_F(VerificationServiceTest, CountryAllowListAndBadNumbers) {
  config_.allowed_country_codes = {"49"};
  Rebuild();
  auto fr = service_->create_session(kNumber, "ip");
  ASSERT_FALSE(fr.ok());
  EXPECT_EQ(fr.error().code, ErrorCode::kCountryNotAllowed);
  auto bad = service_->create_session("+1", "ip");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::kInvalidNumber);
}

TEST_F(VerificationServiceTest, SmsPumpingBreakerPausesAPrefix) {
  limits_config_.sms_pumping.min_sent = 3;
  limits_config_.sms_pumping.min_verified_ratio = 0.5;
  Rebuild();
  for (int i = 0; i < 3; ++i) SendCode(OpenSession("+3361234567" + std::to_string(i)));
  auto paused = service_->request_code(OpenSession("+33612345679"), Transport::kSms, "en", "ip");
  ASSERT_FALSE(paused.ok());
  EXPECT_EQ(paused.error().code, ErrorCode::kSmsPaused);
  EXPECT_TRUE(paused.error().retry_after.has_value());
}

TEST_F(VerificationServiceTest, SessionCreationIsLimitedPerNumber) {
  limits_config_.session_create_per_number = {2, std::chrono::minutes(10)};
  Rebuild();
  EXPECT_TRUE(service_->create_session(kNumber, "a").ok());
  EXPECT_TRUE(service_->create_session(kNumber, "b").ok());
  auto third = service_->create_session(kNumber, "c");
  ASSERT_FALSE(third.ok());
  EXPECT_EQ(third.error().code, ErrorCode::kRateLimited);
  EXPECT_EQ(third.error().retry_after, std::chrono::minutes(10));
}

}  // namespace
}  // namespace latchkey
