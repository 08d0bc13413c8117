#include <atomic>
#include <filesystem>
#include <thread>

#include <gtest/gtest.h>

#include "core/encoding.h"
#include "crypto/secret_hash.h"
#include "lock/backup_service.h"
#include "lock/registration_lock.h"
#include "storage/storage.h"
#include "storage/test_storage.h"

namespace latchkey {
namespace {

constexpr char kNumber[] = "+33612345678";

class LockTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(initialize_crypto());
    dir_ = fresh_test_dir("lock");
    storage_ = open_test_storage(dir_);
    ASSERT_TRUE(storage_);
    limits_config_.registration_lock_per_number = {3, std::chrono::hours(1)};
    limits_ = std::make_unique<Limits>(limits_config_, metrics_);
    lock_ = std::make_unique<RegistrationLockService>(accounts_config_, storage_->accounts(), storage_->notices(),
                                                      *limits_, clock_, random_, metrics_, std::string(32, 'c'));
    backups_ = std::make_unique<BackupService>(storage_->backups(), random_, clock_, metrics_);
    Device primary;
    primary.password_hash = hash_password(random_, "a-device-password-here");
    primary.registration_id = 1;
    primary.created_at = primary.last_seen_at = clock_.now_ms();
    auto record = storage_->accounts().create_or_replace(kNumber, new_uuid(random_), primary, clock_.now_ms());
    ASSERT_TRUE(record.ok()) << record.error().message;
    uuid_ = record->account.uuid;
  }
  void TearDown() override {
    storage_->close();
    std::filesystem::remove_all(dir_);
  }
  Account Load() { return **storage_->accounts().find_by_uuid(uuid_); }

  std::filesystem::path dir_;
  ManualClock clock_;
  SodiumRandom random_;
  MetricsRegistry metrics_;
  AccountsConfig accounts_config_;
  LimitsConfig limits_config_;
  std::unique_ptr<Storage> storage_;
  std::unique_ptr<Limits> limits_;
  std::unique_ptr<RegistrationLockService> lock_;
  std::unique_ptr<BackupService> backups_;
  std::string uuid_;
  const std::string token_ = std::string(64, 'a');
};

TEST_F(LockTest, UnlockedAccountsPass) { EXPECT_TRUE(lock_->check(Load(), std::nullopt).ok()); }

TEST_F(LockTest, TokenMustBe64Hex) {
  for (const char* bad : {"", "abc", "zz", "aaaa"}) {
    Status s = lock_->set(uuid_, bad);
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, ErrorCode::kMalformedRequest);
  }
  EXPECT_TRUE(lock_->set(uuid_, token_).ok());
  EXPECT_EQ(Load().registration_lock_record.find(*hex_decode(token_)), std::string::npos);  // only a salted hash
}

TEST_F(LockTest, LockedAccountNeedsTheTokenAndReportsFailures) {
  ASSERT_TRUE(lock_->set(uuid_, token_).ok());
  clock_.advance(std::chrono::hours(1));
  Status missing = lock_->check(Load(), std::nullopt);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kRegistrationLocked);
  auto remaining = missing.error().details["timeRemaining"].get<std::int64_t>();
  EXPECT_EQ(remaining, std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::days(7) - std::chrono::hours(1)).count());
  const auto& creds = missing.error().details["backupCredentials"];
  auto uuid = lock_->verify_backup_credentials(creds["username"], creds["password"], clock_.now_ms());
  ASSERT_TRUE(uuid);
  EXPECT_EQ(*uuid, uuid_);

  Status wrong = lock_->check(Load(), std::string(64, 'b'));
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.error().code, ErrorCode::kRegistrationLocked);
  EXPECT_TRUE(lock_->check(Load(), token_).ok());

  auto notices = storage_->notices().list(uuid_, 0, 10);
  ASSERT_TRUE(notices.ok());
  ASSERT_EQ(notices->size(), 2u);
  EXPECT_EQ((*notices)[0].kind, "registration_lock_failure");
}

TEST_F(LockTest, FailuresAreLimitedPerNumber) {
  ASSERT_TRUE(lock_->set(uuid_, token_).ok());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(lock_->check(Load(), std::nullopt).error().code, ErrorCode::kRegistrationLocked);
  Status limited = lock_->check(Load(), std::nullopt);
  ASSERT_FALSE(limited.ok());
  EXPECT_EQ(limited.error().code, ErrorCode::kRateLimited);
  EXPECT_TRUE(lock_->check(Load(), token_).ok());  // the owner with the token is never limited
}

TEST_F(LockTest, LockLapsesWhenNoDeviceWasSeenRecently) {
  ASSERT_TRUE(lock_->set(uuid_, token_).ok());
  clock_.advance(accounts_config_.registration_lock_window);
  EXPECT_TRUE(lock_->check(Load(), std::nullopt).ok());
}

TEST_F(LockTest, BackupCredentialsExpireAndResistTampering) {
  BackupCredentials c = lock_->issue_backup_credentials(uuid_, clock_.now_ms());
  EXPECT_TRUE(lock_->verify_backup_credentials(c.username, c.password, clock_.now_ms()));
  EXPECT_FALSE(lock_->verify_backup_credentials(c.username, c.password + "x", clock_.now_ms()));
  EXPECT_FALSE(lock_->verify_backup_credentials("backup-" + new_uuid(random_), c.password, clock_.now_ms()));
  std::string later = std::to_string(clock_.now_ms() + 10 * 86'400'000LL) + c.password.substr(c.password.find('.'));
  EXPECT_FALSE(lock_->verify_backup_credentials(c.username, later, clock_.now_ms()));  // extended expiry: bad MAC
  EXPECT_FALSE(lock_->verify_backup_credentials(c.username, c.password,
                                                clock_.now_ms() + accounts_config_.backup_credentials_ttl.count()));
  EXPECT_FALSE(lock_->verify_backup_credentials(uuid_, c.password, clock_.now_ms()));
}

TEST_F(LockTest, BackupValidatesSizes) {
  std::string key(32, 'k'), data(32, 'd');
  EXPECT_EQ(backups_->put(uuid_, std::string(31, 'k'), data, 10).error().code, ErrorCode::kMalformedRequest);
  EXPECT_EQ(backups_->put(uuid_, key, std::string(15, 'd'), 10).error().code, ErrorCode::kMalformedRequest);
  EXPECT_EQ(backups_->put(uuid_, key, std::string(49, 'd'), 10).error().code, ErrorCode::kMalformedRequest);
  EXPECT_EQ(backups_->put(uuid_, key, data, 0).error().code, ErrorCode::kMalformedRequest);
  EXPECT_EQ(backups_->put(uuid_, key, data, 256).error().code, ErrorCode::kMalformedRequest);
  EXPECT_TRUE(backups_->put(uuid_, key, data, 255).ok());
}

TEST_F(LockTest, BackupIsRestorableOnlyOnceExposed) {
  std::string key(32, 'k'), data(32, 'd');
  EXPECT_EQ(backups_->expose(uuid_, data).error().code, ErrorCode::kNotFound);
  ASSERT_TRUE(backups_->put(uuid_, key, data, 10).ok());
  EXPECT_EQ(backups_->restore(uuid_, key).error().code, ErrorCode::kNotFound);
  EXPECT_EQ(backups_->expose(uuid_, std::string(32, 'x')).error().code, ErrorCode::kConflict);
  ASSERT_TRUE(backups_->expose(uuid_, data).ok());
  auto restored = backups_->restore(uuid_, key);
  ASSERT_TRUE(restored.ok());
  EXPECT_EQ(restored->data, data);
  EXPECT_EQ(restored->tries_remaining, 10);
}

TEST_F(LockTest, WrongKeysEraseTheBackupAtTheLimit) {
  std::string key(32, 'k'), wrong(32, 'w'), data(32, 'd');
  ASSERT_TRUE(backups_->put(uuid_, key, data, 10).ok());
  ASSERT_TRUE(backups_->expose(uuid_, data).ok());
  for (int left = 9; left >= 7; --left) {
    auto r = backups_->restore(uuid_, wrong);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, ErrorCode::kPinMismatch);
    EXPECT_EQ(r.error().details["triesRemaining"], left);
  }
  EXPECT_EQ(backups_->restore(uuid_, key)->tries_remaining, 10);  // the right key resets the counter
  for (int i = 0; i < 10; ++i) EXPECT_EQ(backups_->restore(uuid_, wrong).error().code, ErrorCode::kPinMismatch);
  EXPECT_EQ(backups_->restore(uuid_, key).error().code, ErrorCode::kNotFound);  // erased for good
}

TEST_F(LockTest, ConcurrentWrongKeysNeverExceedTheLimit) {
  std::string key(32, 'k'), wrong(32, 'w'), data(32, 'd');
  ASSERT_TRUE(backups_->put(uuid_, key, data, 10).ok());
  ASSERT_TRUE(backups_->expose(uuid_, data).ok());
  std::atomic<int> mismatches{0}, not_found{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 20; ++t)
    threads.emplace_back([&] {
      auto r = backups_->restore(uuid_, wrong);
      if (!r.ok() && r.error().code == ErrorCode::kPinMismatch) mismatches++;
      if (!r.ok() && r.error().code == ErrorCode::kNotFound) not_found++;
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(mismatches.load(), 10);
  EXPECT_EQ(not_found.load(), 10);
  EXPECT_EQ(backups_->restore(uuid_, key).error().code, ErrorCode::kNotFound);
}

}  // namespace
}  // namespace latchkey
