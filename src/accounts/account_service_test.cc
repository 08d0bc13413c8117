#include "accounts/account_service.h"

#include <filesystem>
#include <regex>

#include <gtest/gtest.h>

#include "crypto/proof_of_work.h"
#include "storage/storage.h"
#include "storage/test_storage.h"

namespace latchkey {
namespace {

constexpr char kNumber[] = "+33612345678";
constexpr char kPassword[] = "a-device-password-of-24c";

class CapturingProvider final : public SmsProvider {
 public:
  const std::string& name() const override { return name_; }
  bool supports(Transport) const override { return true; }
  SendResult send(const OutgoingMessage& m) override {
    std::smatch match;
    std::regex_search(m.body, match, std::regex("\\d{6}"));
    last_code = match.str();
    return {SendOutcome::kSent, "x", ""};
  }
  std::string last_code;

 private:
  std::string name_ = "cap";
};

class AccountServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(initialize_crypto());
    dir_ = fresh_test_dir("acct");
    storage_ = open_test_storage(dir_);
    ASSERT_TRUE(storage_);
    auto p = std::make_unique<CapturingProvider>();
    provider_ = p.get();
    std::vector<std::unique_ptr<SmsProvider>> providers;
    providers.push_back(std::move(p));
    SmsRoutingConfig routing;
    routing.default_route = {"cap"};
    sms_ = std::make_unique<SmsRouter>(std::move(providers), routing, metrics_);
    verification_config_.proof_of_work_bits = 0;
    limits_ = std::make_unique<Limits>(limits_config_, metrics_);
    breaker_ = std::make_unique<SmsPumpingBreaker>(limits_config_.sms_pumping, metrics_);
    verification_ = std::make_unique<VerificationService>(verification_config_, storage_->sessions(), *sms_, *limits_,
                                                          *breaker_, clock_, random_, metrics_, std::string(32, 'k'));
    accounts_ = std::make_unique<AccountService>(accounts_config_, storage_->accounts(), *verification_, *limits_,
                                                 nullptr, nullptr, clock_, random_, metrics_);
  }
  void TearDown() override {
    storage_->close();
    std::filesystem::remove_all(dir_);
  }
  std::string VerifiedSession(const std::string& number = kNumber) {
    auto s = verification_->create_session(number, "ip");
    EXPECT_TRUE(s.ok());
    EXPECT_TRUE(verification_->request_code(s->id, Transport::kSms, "en", "ip").ok());
    EXPECT_TRUE(verification_->check_code(s->id, provider_->last_code)->verified);
    return s->id;
  }
  Result<RegisteredDevice> Register(const std::string& password, const std::string& number = kNumber) {
    return accounts_->register_account({.number = number,
                                        .password = password,
                                        .session_id = VerifiedSession(number),
                                        .registration_id = 42});
  }

  std::filesystem::path dir_;
  ManualClock clock_;
  SodiumRandom random_;
  MetricsRegistry metrics_;
  VerificationConfig verification_config_;
  LimitsConfig limits_config_;
  AccountsConfig accounts_config_;
  std::unique_ptr<Storage> storage_;
  CapturingProvider* provider_ = nullptr;
  std::unique_ptr<SmsRouter> sms_;
  std::unique_ptr<Limits> limits_;
  std::unique_ptr<SmsPumpingBreaker> breaker_;
  std::unique_ptr<VerificationService> verification_;
  std::unique_ptr<AccountService> accounts_;
};

// The takeover delay, with the clock moved by hand instead of sleeping.
class TakeoverDelayTest : public AccountServiceTest {
 protected:
  void SetUp() override {
    AccountServiceTest::SetUp();
    guard_ = std::make_unique<TakeoverGuard>(accounts_config_, storage_->takeovers(), storage_->notices(),
                                             *verification_, clock_, random_, metrics_);
    guarded_ = std::make_unique<AccountService>(accounts_config_, storage_->accounts(), *verification_, *limits_,
                                                nullptr, guard_.get(), clock_, random_, metrics_);
  }
  Result<RegisteredDevice> Attempt(const std::string& session, const std::string& password) {
    return guarded_->register_account(
        {.number = kNumber, .password = password, .session_id = session, .registration_id = 7});
  }
  std::unique_ptr<TakeoverGuard> guard_;
  std::unique_ptr<AccountService> guarded_;
};

TEST_F(TakeoverDelayTest, ActiveAccountIsTakenOverOnlyAfterTheDelay) {
  auto owner = Register(kPassword);
  ASSERT_TRUE(owner.ok());
  std::string session = VerifiedSession();
  auto first = Attempt(session, "the-new-device-password");
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_TRUE(first->pending.has_value());
  EXPECT_EQ(first->pending->not_before, clock_.now_ms() + 24 * 3600 * 1000);
  EXPECT_TRUE(accounts_->authenticate(owner->uuid, kPassword).ok());
  auto notices = storage_->notices().list(owner->uuid, 0, 10);
  ASSERT_EQ(notices->size(), 1u);
  EXPECT_EQ((*notices)[0].kind, "takeover_pending");

  clock_.advance(std::chrono::hours(23));
  auto early = Attempt(session, "the-new-device-password");
  ASSERT_TRUE(early.ok());
  EXPECT_TRUE(early->pending.has_value());

  clock_.advance(std::chrono::hours(1));
  auto done = Attempt(session, "the-new-device-password");
  ASSERT_TRUE(done.ok()) << done.error().message;
  EXPECT_FALSE(done->pending.has_value());
  EXPECT_EQ(done->uuid, owner->uuid);
  EXPECT_FALSE(accounts_->authenticate(owner->uuid, kPassword).ok());
  EXPECT_TRUE(accounts_->authenticate(owner->uuid, "the-new-device-password").ok());
  auto attempt = storage_->takeovers().find(first->pending->id);
  EXPECT_EQ((*attempt)->state, "completed");
}

TEST_F(TakeoverDelayTest, OwnerRefusalBurnsTheSession) {
  auto owner = Register(kPassword);
  std::string session = VerifiedSession();
  auto pending = Attempt(session, "the-new-device-password");
  ASSERT_TRUE(pending.ok() && pending->pending);
  ASSERT_TRUE(guard_->deny(owner->uuid, pending->pending->id).ok());
  EXPECT_EQ(guard_->deny(owner->uuid, pending->pending->id).error().code, ErrorCode::kConflict);
  EXPECT_EQ(guard_->approve("someone-else", pending->pending->id).error().code, ErrorCode::kNotFound);
  clock_.advance(std::chrono::hours(24));  // even once the delay has passed
  auto after = Attempt(session, "the-new-device-password");
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().code, ErrorCode::kTakeoverDenied);
  EXPECT_TRUE(accounts_->authenticate(owner->uuid, kPassword).ok());
}

TEST_F(TakeoverDelayTest, InactiveAccountNeedsNoWait) {
  auto owner = Register(kPassword);
  clock_.advance(accounts_config_.takeover_seen_window);
  auto r = Attempt(VerifiedSession(), "the-new-device-password");
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_FALSE(r->pending.has_value());
  EXPECT_EQ(r->uuid, owner->uuid);
}

TEST_F(AccountServiceTest, RegistersAndAuthenticates) {
  auto r = Register(kPassword);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->number, kNumber);
  EXPECT_EQ(r->device_id, 1u);
  EXPECT_FALSE(r->replaced_existing);
  EXPECT_TRUE(accounts_->authenticate(r->uuid, kPassword).ok());
  EXPECT_TRUE(accounts_->authenticate(r->uuid + ".1", kPassword).ok());
  for (auto [user, pass] : std::vector<std::pair<std::string, std::string>>{
           {r->uuid, "wrong-password-wrong"}, {r->uuid + ".2", kPassword}, {r->uuid + ".x", kPassword},
           {r->uuid + ".0", kPassword}, {"not-a-uuid", kPassword}, {r->uuid, ""}}) {
    auto a = accounts_->authenticate(user, pass);
    ASSERT_FALSE(a.ok()) << user;
    EXPECT_EQ(a.error().code, ErrorCode::kUnauthorized);
  }
}

TEST_F(AccountServiceTest, ReRegistrationKeepsUuidAndRevokesOldDevice) {
  auto first = Register(kPassword);
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(accounts_->authenticate(first->uuid, kPassword).ok());  // its credentials are now in memory
  auto second = Register("another-password-of-24c!");
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->uuid, first->uuid);
  EXPECT_TRUE(second->replaced_existing);
  EXPECT_FALSE(accounts_->authenticate(first->uuid, kPassword).ok());
  EXPECT_TRUE(accounts_->authenticate(first->uuid, "another-password-of-24c!").ok());
}

TEST_F(AccountServiceTest, ValidatesRequest) {
  auto shortpw = accounts_->register_account(
      {.number = kNumber, .password = "short", .session_id = "s", .registration_id = 42});
  ASSERT_FALSE(shortpw.ok());
  EXPECT_EQ(shortpw.error().code, ErrorCode::kMalformedRequest);
  auto range = accounts_->register_account(
      {.number = kNumber, .password = kPassword, .session_id = "s", .registration_id = 0});
  ASSERT_FALSE(range.ok());
  EXPECT_EQ(range.error().code, ErrorCode::kMalformedRequest);
  auto big = accounts_->register_account(
      {.number = kNumber, .password = kPassword, .session_id = "s", .registration_id = 16384});
  EXPECT_FALSE(big.ok());
  auto name = accounts_->register_account({.number = kNumber,
                                           .password = kPassword,
                                           .session_id = "s",
                                           .registration_id = 1,
                                           .name = std::string(300, 'n')});
  EXPECT_FALSE(name.ok());
  auto unknown = accounts_->register_account(
      {.number = kNumber, .password = kPassword, .session_id = "unknown-session", .registration_id = 1});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::kRegistrationSessionInvalid);
}

TEST_F(AccountServiceTest, DeleteRemovesCredentialsAndFreesNumber) {
  auto r = Register(kPassword);
  ASSERT_TRUE(r.ok());
  auto device = accounts_->authenticate(r->uuid, kPassword);
  ASSERT_TRUE(device.ok());
  EXPECT_TRUE(accounts_->delete_account(*device).ok());
  EXPECT_FALSE(accounts_->authenticate(r->uuid, kPassword).ok());
  auto again = Register(kPassword);
  ASSERT_TRUE(again.ok());
  EXPECT_NE(again->uuid, r->uuid);
  EXPECT_FALSE(again->replaced_existing);
}

// Another server sharing the database removes the device: this one trusts what it read for at most
// accounts.credential_cache_ttl. The password is still checked on every call.
TEST_F(AccountServiceTest, CredentialsReadFromStorageAreTrustedForTheirLifetimeOnly) {
  auto r = Register(kPassword);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(accounts_->authenticate(r->uuid, kPassword).ok());
  ASSERT_TRUE(storage_->accounts().remove_device(r->uuid, 1).ok());  // not through this service

  EXPECT_TRUE(accounts_->authenticate(r->uuid, kPassword).ok());
  auto wrong = accounts_->authenticate(r->uuid, "wrong-password-wrong");
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ErrorCode::kUnauthorized);

  clock_.advance(accounts_config_.credential_cache_ttl);
  auto expired = accounts_->authenticate(r->uuid, kPassword);
  ASSERT_FALSE(expired.ok());
  EXPECT_EQ(expired.error().code, ErrorCode::kUnauthorized);
}

TEST_F(AccountServiceTest, ForgottenCredentialsAreReadAgainAtOnce) {
  auto r = Register(kPassword);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(accounts_->authenticate(r->uuid, kPassword).ok());
  ASSERT_TRUE(storage_->accounts().remove_device(r->uuid, 1).ok());
  accounts_->forget_credentials(r->uuid);  // what device linking and removal do once their change is durable
  EXPECT_FALSE(accounts_->authenticate(r->uuid, kPassword).ok());
}

TEST_F(AccountServiceTest, AZeroCredentialLifetimeReadsStorageEveryTime) {
  accounts_config_.credential_cache_ttl = std::chrono::milliseconds(0);
  AccountService uncached(accounts_config_, storage_->accounts(), *verification_, *limits_, nullptr, nullptr,
                          clock_, random_, metrics_);
  auto r = Register(kPassword);
  ASSERT_TRUE(r.ok());
  ASSERT_TRUE(uncached.authenticate(r->uuid, kPassword).ok());
  ASSERT_TRUE(storage_->accounts().remove_device(r->uuid, 1).ok());
  EXPECT_FALSE(uncached.authenticate(r->uuid, kPassword).ok());
}

}  // namespace
}  // namespace latchkey
