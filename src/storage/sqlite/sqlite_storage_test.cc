#include "storage/sqlite/sqlite_storage.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <future>
#include <mutex>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

#include "storage/fault_injecting_storage.h"
#include "storage/storage.h"

namespace latchkey {
namespace {

using namespace std::chrono_literals;

std::string make_temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "latchkey-storage-XXXXXX").string();
  char* made = ::mkdtemp(pattern.data());
  if (made == nullptr) std::abort();
  return pattern;
}

VerificationSession make_session(const std::string& id, EpochMillis expires_at = 2'000'000'000'000) {
  VerificationSession session;
  session.id = id;
  session.number = "+33612345678";
  session.country_code = "33";
  session.created_at = 1'700'000'000'000;
  session.expires_at = expires_at;
  return session;
}

Device make_device(std::uint32_t id, const std::string& password_hash) {
  Device device;
  device.id = id;
  device.password_hash = password_hash;
  device.registration_id = 1234;
  device.name = std::string("n\0me", 4);
  device.created_at = 1'700'000'000'000;
  device.last_seen_at = 1'700'000'000'000;
  return device;
}

// ---------------------------------------------------------------------------------------------------------
// The Storage contract, run against every backend.

// A backend under test: opens storage whose data lives in `directory` (created empty for each test and
// removed after it). Opening the same directory again must find the same data.
struct StorageBackend {
  std::string name;
  std::function<Result<std::unique_ptr<Storage>>(const std::string& directory)> open;
};

void PrintTo(const StorageBackend& backend, std::ostream* out) { *out << backend.name; }

Result<std::unique_ptr<Storage>> open_sqlite_in(const std::string& directory) {
  StorageConfig config;
  config.backend = "sqlite";
  config.sqlite_path = directory + "/latchkey.db";
  config.write_batch_max = 64;
  config.read_connections = 4;
  return open_storage(config);
}

class StorageTest : public ::testing::TestWithParam<StorageBackend> {
 protected:
  void SetUp() override {
    directory_ = make_temp_dir();
    ASSERT_NO_FATAL_FAILURE(open());
  }
  void TearDown() override {
    storage_.reset();
    std::filesystem::remove_all(directory_);
  }

  void open() {
    auto opened = GetParam().open(directory_);
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    storage_ = std::move(opened).value();
  }
  void reopen() {
    storage_->close();
    storage_.reset();
    open();
  }

  Storage& storage() { return *storage_; }
  VerificationSessionStore& sessions() { return storage_->sessions(); }
  AccountStore& accounts() { return storage_->accounts(); }
  BackupStore& backups() { return storage_->backups(); }
  NoticeStore& notices() { return storage_->notices(); }

  // Creates an account with one device and an exposed backup whose access key record is `key`.
  void create_account_with_backup(const std::string& uuid, const std::string& number, const std::string& key,
                                  int max_tries = 10) {
    ASSERT_TRUE(accounts().create_or_replace(number, uuid, make_device(1, "h"), 1000).ok());
    ASSERT_TRUE(backups().put(make_backup(uuid, key, max_tries)).ok());
    ASSERT_TRUE(backups().expose(uuid, "secret-data").ok());
  }

  std::optional<Backup> find_backup(const std::string& uuid) {
    auto found = backups().find(uuid);
    EXPECT_TRUE(found.ok()) << found.error().message;
    return found.ok() ? *found : std::nullopt;
  }

  static Backup make_backup(const std::string& uuid, const std::string& key, int max_tries = 10) {
    Backup backup;
    backup.account_uuid = uuid;
    backup.access_key_record = key;
    backup.data = "secret-data";
    backup.max_tries = max_tries;
    backup.tries_remaining = max_tries;
    backup.updated_at = 4242;
    return backup;
  }

  static std::function<bool(const std::string&)> key_is(const std::string& key) {
    return [key](const std::string& record) { return record == key; };
  }

  std::optional<VerificationSession> find_session(const std::string& id) {
    auto found = sessions().find(id);
    EXPECT_TRUE(found.ok()) << found.error().message;
    return found.ok() ? *found : std::nullopt;
  }

  std::string directory_;
  std::unique_ptr<Storage> storage_;
};

TEST_P(StorageTest, HealthCheckAnswers) { EXPECT_TRUE(storage().check_health().ok()); }

TEST_P(StorageTest, SessionRoundTripKeepsEveryField) {
  VerificationSession session = make_session("session-1");
  session.version = 3;
  session.pow_challenge = std::string("\x00\x01\xff\x00", 4);
  session.pow_bits = 18;
  session.pow_passed = true;
  session.code_hash = std::string("\xde\xad\x00\xbe\xef", 5);
  session.code_expires_at = 11;
  session.code_attempts = 2;
  session.sms_sent = 3;
  session.calls_made = 1;
  session.next_sms_at = 12;
  session.next_call_at = 13;
  session.last_provider = "twilio";
  session.verified_at = 14;
  session.consumed_at = 15;
  ASSERT_TRUE(sessions().insert(session).ok());

  std::optional<VerificationSession> found = find_session("session-1");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->id, session.id);
  EXPECT_EQ(found->number, session.number);
  EXPECT_EQ(found->country_code, session.country_code);
  EXPECT_EQ(found->created_at, session.created_at);
  EXPECT_EQ(found->expires_at, session.expires_at);
  EXPECT_EQ(found->version, 3);
  EXPECT_EQ(found->pow_challenge, session.pow_challenge);
  EXPECT_EQ(found->pow_bits, 18);
  EXPECT_TRUE(found->pow_passed);
  EXPECT_EQ(found->code_hash, session.code_hash);
  EXPECT_EQ(found->code_expires_at, 11);
  EXPECT_EQ(found->code_attempts, 2);
  EXPECT_EQ(found->sms_sent, 3);
  EXPECT_EQ(found->calls_made, 1);
  EXPECT_EQ(found->next_sms_at, 12);
  EXPECT_EQ(found->next_call_at, 13);
  EXPECT_EQ(found->last_provider, "twilio");
  EXPECT_EQ(found->verified_at, 14);
  EXPECT_EQ(found->consumed_at, 15);
}

TEST_P(StorageTest, EmptyBinaryFieldsStayEmpty) {
  ASSERT_TRUE(sessions().insert(make_session("empty")).ok());
  std::optional<VerificationSession> found = find_session("empty");
  ASSERT_TRUE(found.has_value());
  EXPECT_TRUE(found->pow_challenge.empty());
  EXPECT_TRUE(found->code_hash.empty());
}

TEST_P(StorageTest, FindUnknownSessionAnswersNothing) { EXPECT_FALSE(find_session("missing").has_value()); }

TEST_P(StorageTest, InsertingAnExistingIdFails) {
  ASSERT_TRUE(sessions().insert(make_session("twice")).ok());
  Status again = sessions().insert(make_session("twice"));
  EXPECT_FALSE(again.ok());
}

TEST_P(StorageTest, UpdateIsCompareAndSetOnVersion) {
  ASSERT_TRUE(sessions().insert(make_session("cas")).ok());

  VerificationSession first = *find_session("cas");
  VerificationSession second = first;  // a concurrent reader holding the same version
  first.sms_sent = 1;
  ASSERT_TRUE(sessions().update(first).ok());
  EXPECT_EQ(find_session("cas")->version, 1);
  EXPECT_EQ(find_session("cas")->sms_sent, 1);

  second.calls_made = 1;
  Status lost = sessions().update(second);
  ASSERT_FALSE(lost.ok());
  EXPECT_EQ(lost.error().code, ErrorCode::kConflict);
  EXPECT_EQ(find_session("cas")->calls_made, 0);

  VerificationSession reloaded = *find_session("cas");
  reloaded.calls_made = 1;
  ASSERT_TRUE(sessions().update(reloaded).ok());
  std::optional<VerificationSession> final_state = find_session("cas");
  EXPECT_EQ(final_state->version, 2);
  EXPECT_EQ(final_state->sms_sent, 1);
  EXPECT_EQ(final_state->calls_made, 1);
}

TEST_P(StorageTest, UpdateOfUnknownSessionIsNotFound) {
  Status status = sessions().update(make_session("nobody"));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().code, ErrorCode::kSessionNotFound);
}

TEST_P(StorageTest, DeleteExpiredRemovesOnlyExpiredUpToLimit) {
  for (int i = 1; i <= 5; ++i)
    ASSERT_TRUE(sessions().insert(make_session("s" + std::to_string(i), i * 100)).ok());

  Result<int> deleted = sessions().delete_expired(/*now=*/350, /*limit=*/10);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 3);
  EXPECT_FALSE(find_session("s3").has_value());
  EXPECT_TRUE(find_session("s4").has_value());

  deleted = sessions().delete_expired(/*now=*/10'000, /*limit=*/1);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 1);
  EXPECT_FALSE(find_session("s4").has_value());
  EXPECT_TRUE(find_session("s5").has_value());

  deleted = sessions().delete_expired(/*now=*/500, /*limit=*/10);  // expires_at == now is not expired
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 0);
}

TEST_P(StorageTest, CreateAccountStoresPrimaryDevice) {
  Device primary = make_device(1, std::string("hash\0one", 8));
  auto created = accounts().create_or_replace("+33611111111", "uuid-1", primary, /*now=*/5000);
  ASSERT_TRUE(created.ok()) << created.error().message;
  EXPECT_FALSE(created->replaced_existing);
  EXPECT_EQ(created->account.uuid, "uuid-1");
  EXPECT_EQ(created->account.number, "+33611111111");
  EXPECT_EQ(created->account.created_at, 5000);
  ASSERT_EQ(created->account.devices.size(), 1u);
  EXPECT_EQ(created->account.devices[0].password_hash, primary.password_hash);

  auto by_uuid = accounts().find_by_uuid("uuid-1");
  ASSERT_TRUE(by_uuid.ok());
  ASSERT_TRUE(by_uuid->has_value());
  EXPECT_EQ((*by_uuid)->number, "+33611111111");
  EXPECT_EQ((*by_uuid)->created_at, 5000);
  ASSERT_EQ((*by_uuid)->devices.size(), 1u);
  const Device& device = (*by_uuid)->devices[0];
  EXPECT_EQ(device.id, 1u);
  EXPECT_EQ(device.password_hash, primary.password_hash);
  EXPECT_EQ(device.registration_id, 1234);
  EXPECT_EQ(device.name, primary.name);
  EXPECT_EQ(device.created_at, primary.created_at);
  EXPECT_EQ(device.last_seen_at, primary.last_seen_at);

  auto by_number = accounts().find_by_number("+33611111111");
  ASSERT_TRUE(by_number.ok());
  ASSERT_TRUE(by_number->has_value());
  EXPECT_EQ((*by_number)->uuid, "uuid-1");

  auto missing = accounts().find_by_number("+33622222222");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  missing = accounts().find_by_uuid("uuid-2");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
}

TEST_P(StorageTest, ReRegistrationKeepsUuidAndReplacesDevices) {
  ASSERT_TRUE(accounts().create_or_replace("+33611111111", "uuid-1", make_device(2, "old"), 1000).ok());

  auto replaced = accounts().create_or_replace("+33611111111", "uuid-other", make_device(1, "new"), 9000);
  ASSERT_TRUE(replaced.ok()) << replaced.error().message;
  EXPECT_TRUE(replaced->replaced_existing);
  EXPECT_EQ(replaced->account.uuid, "uuid-1");
  EXPECT_EQ(replaced->account.created_at, 1000);
  ASSERT_EQ(replaced->account.devices.size(), 1u);
  EXPECT_EQ(replaced->account.devices[0].password_hash, "new");

  auto old_device = accounts().find_device("uuid-1", 2);
  ASSERT_TRUE(old_device.ok());
  EXPECT_FALSE(old_device->has_value());
  auto new_device = accounts().find_device("uuid-1", 1);
  ASSERT_TRUE(new_device.ok());
  ASSERT_TRUE(new_device->has_value());
  EXPECT_EQ((*new_device)->password_hash, "new");

  auto account = accounts().find_by_number("+33611111111");
  ASSERT_TRUE(account.ok());
  ASSERT_TRUE(account->has_value());
  EXPECT_EQ((*account)->uuid, "uuid-1");
  ASSERT_EQ((*account)->devices.size(), 1u);
  EXPECT_EQ((*account)->devices[0].id, 1u);
  auto other = accounts().find_by_uuid("uuid-other");
  ASSERT_TRUE(other.ok());
  EXPECT_FALSE(other->has_value());
}

TEST_P(StorageTest, ZeroDeviceTimesAreStoredAsNow) {
  Device primary = make_device(1, "hash");
  primary.created_at = 0;
  primary.last_seen_at = 0;
  ASSERT_TRUE(accounts().create_or_replace("+33611111111", "uuid-1", primary, 7777).ok());
  auto device = accounts().find_device("uuid-1", 1);
  ASSERT_TRUE(device.ok());
  ASSERT_TRUE(device->has_value());
  EXPECT_EQ((*device)->created_at, 7777);
  EXPECT_EQ((*device)->last_seen_at, 7777);
}

TEST_P(StorageTest, FindDeviceOfUnknownAccountOrDeviceAnswersNothing) {
  ASSERT_TRUE(accounts().create_or_replace("+33611111111", "uuid-1", make_device(1, "h"), 1000).ok());
  auto device = accounts().find_device("uuid-1", 7);
  ASSERT_TRUE(device.ok());
  EXPECT_FALSE(device->has_value());
  device = accounts().find_device("uuid-none", 1);
  ASSERT_TRUE(device.ok());
  EXPECT_FALSE(device->has_value());
}

TEST_P(StorageTest, TouchDeviceRecordsLastSeen) {
  ASSERT_TRUE(accounts().create_or_replace("+33611111111", "uuid-1", make_device(1, "h"), 1000).ok());
  ASSERT_TRUE(accounts().touch_device("uuid-1", 1, 424242).ok());
  auto device = accounts().find_device("uuid-1", 1);
  ASSERT_TRUE(device.ok());
  ASSERT_TRUE(device->has_value());
  EXPECT_EQ((*device)->last_seen_at, 424242);

  EXPECT_TRUE(accounts().touch_device("uuid-1", 9, 5).ok());     // unknown device: no-op
  EXPECT_TRUE(accounts().touch_device("uuid-none", 1, 5).ok());  // unknown account: no-op
}

TEST_P(StorageTest, DeleteAccountRemovesItAndItsDevices) {
  ASSERT_TRUE(accounts().create_or_replace("+33611111111", "uuid-1", make_device(1, "h"), 1000).ok());
  ASSERT_TRUE(accounts().delete_account("uuid-1").ok());

  auto account = accounts().find_by_uuid("uuid-1");
  ASSERT_TRUE(account.ok());
  EXPECT_FALSE(account->has_value());
  auto device = accounts().find_device("uuid-1", 1);
  ASSERT_TRUE(device.ok());
  EXPECT_FALSE(device->has_value());

  Status again = accounts().delete_account("uuid-1");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::kNotFound);

  auto fresh = accounts().create_or_replace("+33611111111", "uuid-2", make_device(1, "h2"), 2000);
  ASSERT_TRUE(fresh.ok());
  EXPECT_FALSE(fresh->replaced_existing);
  EXPECT_EQ(fresh->account.uuid, "uuid-2");
}

TEST_P(StorageTest, ConcurrentWritersAreAllAcknowledgedAndPresent) {
  constexpr int kThreads = 8;
  constexpr int kWritesPerThread = 200;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &failures] {
      for (int i = 0; i < kWritesPerThread; ++i) {
        if (!sessions().insert(make_session("t" + std::to_string(t) + "-" + std::to_string(i))).ok())
          ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kWritesPerThread; ++i) {
      ASSERT_TRUE(find_session("t" + std::to_string(t) + "-" + std::to_string(i)).has_value())
          << t << " " << i;
    }
  }
}

TEST_P(StorageTest, ConcurrentReadersAndWriters) {
  ASSERT_TRUE(sessions().insert(make_session("shared")).ok());
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([this, &failures] {
      for (int i = 0; i < 200; ++i) {
        auto found = sessions().find("shared");
        if (!found.ok() || !found->has_value()) ++failures;
      }
    });
    threads.emplace_back([this, t, &failures] {
      for (int i = 0; i < 50; ++i) {
        if (!sessions().insert(make_session("rw" + std::to_string(t) + "-" + std::to_string(i))).ok())
          ++failures;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
}

TEST_P(StorageTest, DataSurvivesCloseAndReopen) {
  ASSERT_TRUE(sessions().insert(make_session("kept")).ok());
  ASSERT_TRUE(accounts().create_or_replace("+33611111111", "uuid-1", make_device(1, "h"), 1000).ok());
  ASSERT_NO_FATAL_FAILURE(reopen());
  EXPECT_TRUE(find_session("kept").has_value());
  auto account = accounts().find_by_uuid("uuid-1");
  ASSERT_TRUE(account.ok());
  ASSERT_TRUE(account->has_value());
  EXPECT_EQ((*account)->devices.size(), 1u);
}

TEST_P(StorageTest, CallsAfterCloseAreUnavailable) {
  storage().close();
  storage().close();  // idempotent

  Status inserted = sessions().insert(make_session("late"));
  ASSERT_FALSE(inserted.ok());
  EXPECT_EQ(inserted.error().code, ErrorCode::kUnavailable);
  auto created = accounts().create_or_replace("+33611111111", "uuid-1", make_device(1, "h"), 1000);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, ErrorCode::kUnavailable);
  auto found = sessions().find("late");
  ASSERT_FALSE(found.ok());
  EXPECT_EQ(found.error().code, ErrorCode::kUnavailable);
  Status health = storage().check_health();
  ASSERT_FALSE(health.ok());
  EXPECT_EQ(health.error().code, ErrorCode::kUnavailable);
}

TEST_P(StorageTest, CloseCompletesWritesInFlight) {
  constexpr int kThreads = 4;
  std::atomic<int> acknowledged{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> threads;
  std::vector<std::vector<std::string>> acked(kThreads);
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([this, t, &stop, &acknowledged, &acked] {
      for (int i = 0; !stop; ++i) {
        std::string id = "c" + std::to_string(t) + "-" + std::to_string(i);
        Status status = sessions().insert(make_session(id));
        if (!status.ok()) {
          EXPECT_EQ(status.error().code, ErrorCode::kUnavailable);
          return;
        }
        acked[t].push_back(id);
        ++acknowledged;
      }
    });
  }
  while (acknowledged < 20) std::this_thread::sleep_for(1ms);
  storage().close();
  stop = true;
  for (std::thread& thread : threads) thread.join();
  ASSERT_NO_FATAL_FAILURE(open());
  for (const auto& ids : acked) {
    for (const std::string& id : ids) EXPECT_TRUE(find_session(id).has_value()) << id;
  }
}

TEST_P(StorageTest, FaultInjectionFailsTheNthWrite) {
  FaultInjectingStorage faulty(std::move(storage_));
  faulty.fail_nth_write(2);
  EXPECT_TRUE(faulty.sessions().insert(make_session("w1")).ok());
  Status second = faulty.sessions().insert(make_session("w2"));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.error().code, ErrorCode::kUnavailable);
  EXPECT_TRUE(faulty.sessions().insert(make_session("w3")).ok());

  auto w2 = faulty.sessions().find("w2");
  ASSERT_TRUE(w2.ok());
  EXPECT_FALSE(w2->has_value());  // the failed write never reached the backend
  auto w3 = faulty.sessions().find("w3");
  ASSERT_TRUE(w3.ok());
  EXPECT_TRUE(w3->has_value());
  EXPECT_EQ(faulty.writes_attempted(), 3);
  EXPECT_EQ(faulty.writes_failed(), 1);
}

TEST_P(StorageTest, FaultInjectionFailsEveryWriteOrRead) {
  FaultInjectingStorage faulty(std::move(storage_));
  ASSERT_TRUE(faulty.sessions().insert(make_session("before")).ok());

  faulty.fail_all_writes(true);
  auto created = faulty.accounts().create_or_replace("+33611111111", "uuid-1", make_device(1, "h"), 1000);
  ASSERT_FALSE(created.ok());
  EXPECT_EQ(created.error().code, ErrorCode::kUnavailable);
  Status touched = faulty.accounts().touch_device("uuid-1", 1, 5);
  ASSERT_FALSE(touched.ok());
  Result<int> deleted = faulty.sessions().delete_expired(1, 10);
  ASSERT_FALSE(deleted.ok());
  auto read = faulty.sessions().find("before");  // reads still pass
  ASSERT_TRUE(read.ok());
  EXPECT_TRUE(read->has_value());

  faulty.fail_all_reads(true);
  read = faulty.sessions().find("before");
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.error().code, ErrorCode::kUnavailable);
  EXPECT_FALSE(faulty.check_health().ok());

  faulty.clear_faults();
  EXPECT_TRUE(faulty.check_health().ok());
  EXPECT_TRUE(faulty.accounts().create_or_replace("+33611111111", "uuid-1", make_device(1, "h"), 1000).ok());
}

TEST_P(StorageTest, BackupPutFindAndExpose) {
  ASSERT_TRUE(accounts().create_or_replace("+33611111111", "uuid-1", make_device(1, "h"), 1000).ok());
  EXPECT_FALSE(find_backup("uuid-1").has_value());

  Status missing = backups().expose("uuid-1", "secret-data");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);

  Backup backup = make_backup("uuid-1", std::string("key\0record", 10), 7);
  backup.data = std::string("sec\0ret", 7);
  backup.tries_remaining = 5;
  ASSERT_TRUE(backups().put(backup).ok());
  std::optional<Backup> found = find_backup("uuid-1");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->account_uuid, "uuid-1");
  EXPECT_EQ(found->access_key_record, backup.access_key_record);
  EXPECT_EQ(found->data, backup.data);
  EXPECT_EQ(found->max_tries, 7);
  EXPECT_EQ(found->tries_remaining, 5);
  EXPECT_FALSE(found->exposed);
  EXPECT_EQ(found->updated_at, 4242);

  Status conflict = backups().expose("uuid-1", "sec");  // a prefix is not the same bytes
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code, ErrorCode::kConflict);
  EXPECT_FALSE(find_backup("uuid-1")->exposed);

  ASSERT_TRUE(backups().expose("uuid-1", backup.data).ok());
  EXPECT_TRUE(find_backup("uuid-1")->exposed);
  EXPECT_TRUE(backups().expose("uuid-1", backup.data).ok());  // idempotent
  conflict = backups().expose("uuid-1", "other");
  ASSERT_FALSE(conflict.ok());
  EXPECT_EQ(conflict.error().code, ErrorCode::kConflict);

  // put replaces, exposed or not.
  Backup replacement = make_backup("uuid-1", "new-key", 10);
  replacement.data = "new-data";
  ASSERT_TRUE(backups().put(replacement).ok());
  found = find_backup("uuid-1");
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->access_key_record, "new-key");
  EXPECT_EQ(found->data, "new-data");
  EXPECT_FALSE(found->exposed);

  ASSERT_TRUE(backups().erase("uuid-1").ok());
  EXPECT_FALSE(find_backup("uuid-1").has_value());
  EXPECT_TRUE(backups().erase("uuid-1").ok());  // none: still ok
}

TEST_P(StorageTest, RestoreMatchResetsTriesAndMismatchCountsDown) {
  ASSERT_NO_FATAL_FAILURE(create_account_with_backup("uuid-1", "+33611111111", "right", 3));

  auto attempt = backups().attempt_restore("uuid-1", key_is("wrong"));
  ASSERT_TRUE(attempt.ok()) << attempt.error().message;
  EXPECT_EQ(attempt->outcome, RestoreAttempt::Outcome::kMismatch);
  EXPECT_EQ(attempt->tries_remaining, 2);
  EXPECT_TRUE(attempt->data.empty());
  EXPECT_EQ(find_backup("uuid-1")->tries_remaining, 2);

  attempt = backups().attempt_restore("uuid-1", key_is("right"));
  ASSERT_TRUE(attempt.ok());
  EXPECT_EQ(attempt->outcome, RestoreAttempt::Outcome::kRestored);
  EXPECT_EQ(attempt->data, "secret-data");
  EXPECT_EQ(attempt->tries_remaining, 3);
  EXPECT_EQ(find_backup("uuid-1")->tries_remaining, 3);

  for (int left = 2; left >= 1; --left) {
    attempt = backups().attempt_restore("uuid-1", key_is("wrong"));
    ASSERT_TRUE(attempt.ok());
    EXPECT_EQ(attempt->outcome, RestoreAttempt::Outcome::kMismatch);
    EXPECT_EQ(attempt->tries_remaining, left);
  }
  attempt = backups().attempt_restore("uuid-1", key_is("wrong"));
  ASSERT_TRUE(attempt.ok());
  EXPECT_EQ(attempt->outcome, RestoreAttempt::Outcome::kErased);
  EXPECT_EQ(attempt->tries_remaining, 0);
  EXPECT_FALSE(find_backup("uuid-1").has_value());

  // Gone for good, even with the right key.
  attempt = backups().attempt_restore("uuid-1", key_is("right"));
  ASSERT_TRUE(attempt.ok());
  EXPECT_EQ(attempt->outcome, RestoreAttempt::Outcome::kNotFound);
  EXPECT_TRUE(attempt->data.empty());
}

TEST_P(StorageTest, RestoreOfUnexposedOrMissingBackupIsNotFound) {
  ASSERT_TRUE(accounts().create_or_replace("+33611111111", "uuid-1", make_device(1, "h"), 1000).ok());
  int calls = 0;
  auto counting = [&calls](const std::string&) {
    ++calls;
    return true;
  };
  auto attempt = backups().attempt_restore("uuid-1", counting);
  ASSERT_TRUE(attempt.ok());
  EXPECT_EQ(attempt->outcome, RestoreAttempt::Outcome::kNotFound);

  ASSERT_TRUE(backups().put(make_backup("uuid-1", "right")).ok());
  attempt = backups().attempt_restore("uuid-1", counting);
  ASSERT_TRUE(attempt.ok());
  EXPECT_EQ(attempt->outcome, RestoreAttempt::Outcome::kNotFound);
  EXPECT_TRUE(attempt->data.empty());
  EXPECT_EQ(calls, 0);
  EXPECT_EQ(find_backup("uuid-1")->tries_remaining, 10);  // not counted

  attempt = backups().attempt_restore("uuid-none", counting);
  ASSERT_TRUE(attempt.ok());
  EXPECT_EQ(attempt->outcome, RestoreAttempt::Outcome::kNotFound);
}

TEST_P(StorageTest, ConcurrentWrongGuessesNeverExceedMaxTries) {
  ASSERT_NO_FATAL_FAILURE(create_account_with_backup("uuid-1", "+33611111111", "right", 10));
  constexpr int kThreads = 8;
  constexpr int kAttemptsPerThread = 5;
  std::atomic<int> mismatches{0}, erased{0}, not_found{0}, other{0}, matcher_calls{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < kAttemptsPerThread; ++i) {
        auto attempt = backups().attempt_restore("uuid-1", [&](const std::string& record) {
          ++matcher_calls;
          return record == "wrong";
        });
        if (!attempt.ok()) {
          ++other;
          continue;
        }
        switch (attempt->outcome) {
          case RestoreAttempt::Outcome::kMismatch: ++mismatches; break;
          case RestoreAttempt::Outcome::kErased: ++erased; break;
          case RestoreAttempt::Outcome::kNotFound: ++not_found; break;
          case RestoreAttempt::Outcome::kRestored: ++other; break;
        }
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(mismatches.load(), 9);
  EXPECT_EQ(erased.load(), 1);
  EXPECT_EQ(matcher_calls.load(), 10);
  EXPECT_EQ(not_found.load(), kThreads * kAttemptsPerThread - 10);
  EXPECT_FALSE(find_backup("uuid-1").has_value());
}

TEST_P(StorageTest, RegistrationLockIsSetClearedAndLoaded) {
  Status missing = accounts().set_registration_lock("uuid-none", "record");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::kNotFound);

  ASSERT_TRUE(accounts().create_or_replace("+33611111111", "uuid-1", make_device(1, "h"), 1000).ok());
  EXPECT_TRUE((*accounts().find_by_uuid("uuid-1"))->registration_lock_record.empty());

  const std::string record("lock\0record", 11);
  ASSERT_TRUE(accounts().set_registration_lock("uuid-1", record).ok());
  EXPECT_EQ((*accounts().find_by_uuid("uuid-1"))->registration_lock_record, record);
  EXPECT_EQ((*accounts().find_by_number("+33611111111"))->registration_lock_record, record);

  ASSERT_TRUE(accounts().set_registration_lock("uuid-1", "").ok());
  EXPECT_TRUE((*accounts().find_by_uuid("uuid-1"))->registration_lock_record.empty());
  EXPECT_TRUE(accounts().set_registration_lock("uuid-1", "").ok());  // clearing twice is fine
}

TEST_P(StorageTest, ReRegistrationKeepsLockBackupAndNotices) {
  ASSERT_NO_FATAL_FAILURE(create_account_with_backup("uuid-1", "+33611111111", "right"));
  ASSERT_TRUE(accounts().set_registration_lock("uuid-1", "lock").ok());
  ASSERT_TRUE(notices().add("uuid-1", "registration_lock_failure", "{}", 2000).ok());

  auto replaced = accounts().create_or_replace("+33611111111", "uuid-other", make_device(1, "new"), 9000);
  ASSERT_TRUE(replaced.ok()) << replaced.error().message;
  EXPECT_TRUE(replaced->replaced_existing);
  EXPECT_EQ(replaced->account.registration_lock_record, "lock");

  auto account = accounts().find_by_number("+33611111111");
  ASSERT_TRUE(account.ok());
  ASSERT_TRUE(account->has_value());
  EXPECT_EQ((*account)->registration_lock_record, "lock");
  std::optional<Backup> backup = find_backup("uuid-1");
  ASSERT_TRUE(backup.has_value());
  EXPECT_TRUE(backup->exposed);
  auto listed = notices().list("uuid-1", 0, 10);
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 1u);
}

TEST_P(StorageTest, DeleteAccountRemovesBackupAndNotices) {
  ASSERT_NO_FATAL_FAILURE(create_account_with_backup("uuid-1", "+33611111111", "right"));
  ASSERT_NO_FATAL_FAILURE(create_account_with_backup("uuid-2", "+33622222222", "right"));
  ASSERT_TRUE(notices().add("uuid-1", "k", "{}", 2000).ok());
  ASSERT_TRUE(notices().add("uuid-2", "k", "{}", 2000).ok());

  ASSERT_TRUE(accounts().delete_account("uuid-1").ok());
  EXPECT_FALSE(find_backup("uuid-1").has_value());
  EXPECT_TRUE(notices().list("uuid-1", 0, 10)->empty());
  EXPECT_TRUE(find_backup("uuid-2").has_value());  // the other account keeps its own
  EXPECT_EQ(notices().list("uuid-2", 0, 10)->size(), 1u);

  // A new account for the same number starts without lock, backup or notices.
  ASSERT_TRUE(accounts().create_or_replace("+33611111111", "uuid-3", make_device(1, "h"), 3000).ok());
  EXPECT_TRUE((*accounts().find_by_uuid("uuid-3"))->registration_lock_record.empty());
  EXPECT_FALSE(find_backup("uuid-3").has_value());
}

TEST_P(StorageTest, StorageManifestIsCompareAndSet) {
  EncryptedStorageStore& store = storage().encrypted_storage();
  ASSERT_TRUE(accounts().create_or_replace("+33611111111", "uuid-1", make_device(1, "h"), 1000).ok());
  auto none = store.find_manifest("uuid-1");
  ASSERT_TRUE(none.ok()) << none.error().message;
  EXPECT_FALSE(none->has_value());

  auto skipped = store.put_manifest("uuid-1", {2, "two"});
  ASSERT_TRUE(skipped.ok());
  EXPECT_FALSE(skipped->written);
  EXPECT_FALSE(skipped->current.has_value());

  auto first = store.put_manifest("uuid-1", {1, std::string("one\0", 4)});
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(first->written);
  auto second = store.put_manifest("uuid-1", {2, "two"});
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(second->written);

  auto stale = store.put_manifest("uuid-1", {2, "late"});
  ASSERT_TRUE(stale.ok());
  EXPECT_FALSE(stale->written);
  ASSERT_TRUE(stale->current.has_value());
  EXPECT_EQ(stale->current->version, 2);
  EXPECT_EQ(stale->current->value, "two");

  auto found = store.find_manifest("uuid-1");
  ASSERT_TRUE(found.ok());
  ASSERT_TRUE(found->has_value());
  EXPECT_EQ((*found)->version, 2);
  EXPECT_EQ((*found)->value, "two");
}

TEST_P(StorageTest, ConcurrentManifestWritesOfOneVersionHaveOneWinner) {
  EncryptedStorageStore& store = storage().encrypted_storage();
  ASSERT_TRUE(accounts().create_or_replace("+33611111111", "uuid-1", make_device(1, "h"), 1000).ok());
  std::atomic<int> winners{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&store, &winners, i] {
      auto written = store.put_manifest("uuid-1", {1, "writer-" + std::to_string(i)});
      if (written.ok() && written->written) ++winners;
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(winners.load(), 1);
}

TEST_P(StorageTest, StorageItemsAreUpsertedFoundAndDeleted) {
  EncryptedStorageStore& store = storage().encrypted_storage();
  ASSERT_TRUE(accounts().create_or_replace("+33611111111", "uuid-1", make_device(1, "h"), 1000).ok());
  ASSERT_TRUE(accounts().create_or_replace("+33622222222", "uuid-2", make_device(1, "h"), 1000).ok());
  const std::string a(16, 'a'), b(16, 'b'), binary("\0\1\2\3\4\5\6\7\0\1\2\3\4\5\6\7", 16);
  ASSERT_TRUE(store.put_items("uuid-1", {{a, "1"}, {b, "2"}, {binary, std::string("\0v", 2)}}, 10).ok());
  ASSERT_TRUE(store.put_items("uuid-1", {{a, "one"}}, 10).ok());
  ASSERT_TRUE(store.put_items("uuid-2", {{a, "other"}}, 10).ok());
  EXPECT_EQ(*store.count_items("uuid-1"), 3);

  auto found = store.find_items("uuid-1", {binary, std::string(16, 'z'), a});
  ASSERT_TRUE(found.ok()) << found.error().message;
  ASSERT_EQ(found->size(), 2u);
  EXPECT_EQ((*found)[0].key, binary);
  EXPECT_EQ((*found)[0].value, std::string("\0v", 2));
  EXPECT_EQ((*found)[1].key, a);
  EXPECT_EQ((*found)[1].value, "one");

  // Over the limit: nothing of the call is kept.
  Status over = store.put_items("uuid-1", {{a, "changed"}, {std::string(16, 'c'), "3"}}, 3);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, ErrorCode::kConflict);
  EXPECT_EQ((*store.find_items("uuid-1", {a}))[0].value, "one");
  EXPECT_EQ(*store.count_items("uuid-1"), 3);

  auto deleted = store.delete_items("uuid-1", {a, std::string(16, 'z')});
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 1);
  EXPECT_TRUE(store.find_items("uuid-1", {a})->empty());
  EXPECT_EQ(*store.count_items("uuid-1"), 2);
  EXPECT_EQ((*store.find_items("uuid-2", {a}))[0].value, "other");  // the other account keeps its own
}

TEST_P(StorageTest, EncryptedStorageIsKeptOnReRegistrationAndRemovedWithTheAccount) {
  EncryptedStorageStore& store = storage().encrypted_storage();
  ASSERT_TRUE(accounts().create_or_replace("+33611111111", "uuid-1", make_device(1, "h"), 1000).ok());
  ASSERT_TRUE(accounts().create_or_replace("+33622222222", "uuid-2", make_device(1, "h"), 1000).ok());
  const std::string key(16, 'k');
  for (const char* uuid : {"uuid-1", "uuid-2"}) {
    ASSERT_TRUE(store.put_manifest(uuid, {1, "m"})->written);
    ASSERT_TRUE(store.put_items(uuid, {{key, "v"}}, 10).ok());
  }

  auto replaced = accounts().create_or_replace("+33611111111", "uuid-other", make_device(1, "new"), 9000);
  ASSERT_TRUE(replaced.ok()) << replaced.error().message;
  EXPECT_EQ(replaced->account.uuid, "uuid-1");
  EXPECT_TRUE(store.find_manifest("uuid-1")->has_value());
  EXPECT_EQ(store.find_items("uuid-1", {key})->size(), 1u);

  ASSERT_TRUE(accounts().delete_account("uuid-1").ok());
  EXPECT_FALSE(store.find_manifest("uuid-1")->has_value());
  EXPECT_EQ(*store.count_items("uuid-1"), 0);
  EXPECT_TRUE(store.find_manifest("uuid-2")->has_value());
  EXPECT_EQ(*store.count_items("uuid-2"), 1);

  ASSERT_TRUE(accounts().create_or_replace("+33611111111", "uuid-3", make_device(1, "h"), 3000).ok());
  EXPECT_FALSE(store.find_manifest("uuid-3")->has_value());
  EXPECT_EQ(*store.count_items("uuid-3"), 0);
}

TEST_P(StorageTest, FaultInjectionCoversEncryptedStorage) {
  FaultInjectingStorage faulty(std::move(storage_));
  ASSERT_TRUE(faulty.accounts().create_or_replace("+33611111111", "uuid-1", make_device(1, "h"), 1000).ok());
  faulty.fail_all_writes(true);
  EXPECT_EQ(faulty.encrypted_storage().put_manifest("uuid-1", {1, "m"}).error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(faulty.encrypted_storage().put_items("uuid-1", {{std::string(16, 'k'), "v"}}, 10).error().code,
            ErrorCode::kUnavailable);
  EXPECT_EQ(faulty.encrypted_storage().delete_items("uuid-1", {std::string(16, 'k')}).error().code,
            ErrorCode::kUnavailable);
  faulty.fail_all_writes(false);
  faulty.fail_all_reads(true);
  EXPECT_EQ(faulty.encrypted_storage().find_manifest("uuid-1").error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(faulty.encrypted_storage().find_items("uuid-1", {}).error().code, ErrorCode::kUnavailable);
  EXPECT_EQ(faulty.encrypted_storage().count_items("uuid-1").error().code, ErrorCode::kUnavailable);
  faulty.fail_all_reads(false);
  EXPECT_FALSE(faulty.encrypted_storage().find_manifest("uuid-1")->has_value());
  faulty.close();
}

TEST_P(StorageTest, NoticesAreListedByCursorAndPruned) {
  ASSERT_TRUE(accounts().create_or_replace("+33611111111", "uuid-1", make_device(1, "h"), 1000).ok());
  ASSERT_TRUE(accounts().create_or_replace("+33622222222", "uuid-2", make_device(1, "h"), 1000).ok());
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 5; ++i) {
    auto id = notices().add("uuid-1", "registration_lock_failure", "{\"n\":" + std::to_string(i) + "}",
                            /*now=*/100 * (i + 1));
    ASSERT_TRUE(id.ok()) << id.error().message;
    if (!ids.empty()) {
      EXPECT_GT(*id, ids.back());
    }
    ids.push_back(*id);
  }
  ASSERT_TRUE(notices().add("uuid-2", "other", "{}", 50).ok());

  auto page = notices().list("uuid-1", 0, 2);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].id, ids[0]);
  EXPECT_EQ((*page)[0].account_uuid, "uuid-1");
  EXPECT_EQ((*page)[0].kind, "registration_lock_failure");
  EXPECT_EQ((*page)[0].details_json, "{\"n\":0}");
  EXPECT_EQ((*page)[0].created_at, 100);
  EXPECT_EQ((*page)[1].id, ids[1]);

  page = notices().list("uuid-1", (*page)[1].id, 10);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 3u);
  EXPECT_EQ((*page)[0].id, ids[2]);
  EXPECT_EQ((*page)[2].id, ids[4]);
  EXPECT_TRUE(notices().list("uuid-1", ids[4], 10)->empty());
  EXPECT_TRUE(notices().list("uuid-1", 0, 0)->empty());

  Result<int> deleted = notices().delete_older_than(/*before=*/300, /*limit=*/10);  // 50, 100, 200
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 3);
  deleted = notices().delete_older_than(/*before=*/10'000, /*limit=*/1);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 1);  // the oldest left: 300
  page = notices().list("uuid-1", 0, 10);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].id, ids[3]);
  EXPECT_EQ((*page)[1].id, ids[4]);
  EXPECT_TRUE(notices().list("uuid-2", 0, 10)->empty());

  // Ids are never reused, even after the newest notice is deleted.
  ASSERT_EQ(*notices().delete_older_than(10'000, 10), 2);
  auto next = notices().add("uuid-1", "k", "{}", 600);
  ASSERT_TRUE(next.ok());
  EXPECT_GT(*next, ids[4]);
}

TEST_P(StorageTest, NewStoresSurviveReopen) {
  ASSERT_NO_FATAL_FAILURE(create_account_with_backup("uuid-1", "+33611111111", "right"));
  ASSERT_TRUE(accounts().set_registration_lock("uuid-1", "lock").ok());
  ASSERT_TRUE(notices().add("uuid-1", "k", "{}", 2000).ok());
  ASSERT_NO_FATAL_FAILURE(reopen());
  EXPECT_EQ((*accounts().find_by_uuid("uuid-1"))->registration_lock_record, "lock");
  ASSERT_TRUE(find_backup("uuid-1").has_value());
  EXPECT_TRUE(find_backup("uuid-1")->exposed);
  EXPECT_EQ(notices().list("uuid-1", 0, 10)->size(), 1u);
}

TEST_P(StorageTest, FaultInjectionCoversBackupsAndNotices) {
  ASSERT_NO_FATAL_FAILURE(create_account_with_backup("uuid-1", "+33611111111", "right"));
  FaultInjectingStorage faulty(std::move(storage_));
  faulty.fail_all_writes(true);
  EXPECT_FALSE(faulty.backups().put(make_backup("uuid-1", "other")).ok());
  EXPECT_FALSE(faulty.backups().expose("uuid-1", "secret-data").ok());
  EXPECT_FALSE(faulty.backups().attempt_restore("uuid-1", key_is("wrong")).ok());
  EXPECT_FALSE(faulty.backups().erase("uuid-1").ok());
  EXPECT_FALSE(faulty.notices().add("uuid-1", "k", "{}", 1).ok());
  EXPECT_FALSE(faulty.notices().delete_older_than(10, 10).ok());
  EXPECT_FALSE(faulty.accounts().set_registration_lock("uuid-1", "lock").ok());
  EXPECT_EQ(faulty.writes_failed(), 7);

  auto backup = faulty.backups().find("uuid-1");  // reads pass, and nothing was written
  ASSERT_TRUE(backup.ok());
  ASSERT_TRUE(backup->has_value());
  EXPECT_EQ((*backup)->access_key_record, "right");
  EXPECT_EQ((*backup)->tries_remaining, 10);
  faulty.fail_all_reads(true);
  EXPECT_FALSE(faulty.backups().find("uuid-1").ok());
  EXPECT_FALSE(faulty.notices().list("uuid-1", 0, 10).ok());

  faulty.clear_faults();
  EXPECT_TRUE(faulty.notices().add("uuid-1", "k", "{}", 1).ok());
  EXPECT_EQ(faulty.notices().list("uuid-1", 0, 10)->size(), 1u);
}

INSTANTIATE_TEST_SUITE_P(Sqlite, StorageTest, ::testing::Values(StorageBackend{"sqlite", open_sqlite_in}),
                         [](const ::testing::TestParamInfo<StorageBackend>& info) {
                           return info.param.name;
                         });

// ---------------------------------------------------------------------------------------------------------
// What only the SQLite backend has: its file, its migrations, its writer.

class SqliteDatabaseTest : public ::testing::Test {
 protected:
  void SetUp() override {
    directory_ = make_temp_dir();
    config_.sqlite_path = directory_ + "/nested/dir/latchkey.db";
    config_.write_batch_max = 64;
    config_.read_connections = 4;
  }
  void TearDown() override { std::filesystem::remove_all(directory_); }

  // Runs one query on a plain connection outside the code under test; answers the first column of the first
  // row as an integer (or -1 when there is no row).
  std::int64_t raw_query(const std::string& sql) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open(config_.sqlite_path.c_str(), &db), SQLITE_OK);
    sqlite3_stmt* statement = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    std::int64_t answer = -1;
    int rc = sqlite3_step(statement);
    if (rc == SQLITE_ROW) answer = sqlite3_column_int64(statement, 0);
    EXPECT_TRUE(rc == SQLITE_ROW || rc == SQLITE_DONE) << sqlite3_errmsg(db);
    sqlite3_finalize(statement);
    sqlite3_close(db);
    return answer;
  }

  std::unique_ptr<SqliteStorage> open_ok() {
    auto opened = SqliteStorage::open(config_);
    EXPECT_TRUE(opened.ok()) << opened.error().message;
    return opened.ok() ? std::move(opened).value() : nullptr;
  }

  std::string directory_;
  StorageConfig config_;
};

TEST_F(SqliteDatabaseTest, CreatesParentDirectoryAndPrivateFile) {
  auto storage = open_ok();
  ASSERT_NE(storage, nullptr);
  struct stat info {};
  ASSERT_EQ(::stat(config_.sqlite_path.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 0777, 0600u);
  EXPECT_EQ(storage->database().path(), config_.sqlite_path);
}

TEST_F(SqliteDatabaseTest, UsesWalForeignKeysAndMemoryJournals) {
  auto storage = open_ok();
  ASSERT_NE(storage, nullptr);
  std::string journal_mode;
  std::int64_t foreign_keys = -1;
  std::int64_t synchronous = -1;
  std::int64_t temp_store = -1;
  Status status = storage->database().write([&](SqliteConnection& connection) -> Status {
    auto journal = connection.prepare("PRAGMA journal_mode");
    if (!journal.ok()) return journal.take_error();
    if (!journal->step("journal").ok()) return make_error(ErrorCode::kInternal, "journal");
    journal_mode = journal->column_text(0);
    auto keys = connection.prepare("PRAGMA foreign_keys");
    if (!keys.ok()) return keys.take_error();
    if (!keys->step("keys").ok()) return make_error(ErrorCode::kInternal, "keys");
    foreign_keys = keys->column_int64(0);
    auto sync = connection.prepare("PRAGMA synchronous");
    if (!sync.ok()) return sync.take_error();
    if (!sync->step("sync").ok()) return make_error(ErrorCode::kInternal, "sync");
    synchronous = sync->column_int64(0);
    auto temp = connection.prepare("PRAGMA temp_store");
    if (!temp.ok()) return temp.take_error();
    if (!temp->step("temp").ok()) return make_error(ErrorCode::kInternal, "temp");
    temp_store = temp->column_int64(0);
    return {};
  });
  ASSERT_TRUE(status.ok()) << status.error().message;
  EXPECT_EQ(journal_mode, "wal");
  EXPECT_EQ(foreign_keys, 1);
  EXPECT_EQ(synchronous, 0);  // OFF: with synchronous=full the sync thread syncs each commit (next test)
  // MEMORY: each write's savepoint journal stays in memory instead of spilling to a temporary file past 64
  // KiB (two pwrite calls per journaled page, the writer's largest cost under load before).
  EXPECT_EQ(temp_store, 2);
}

// The name of the calling thread (the writer and the sync thread name themselves).
std::string thread_name() {
  char name[16] = {};
  pthread_getname_np(pthread_self(), name, sizeof name);
  return name;
}

// A scratch table t (x INTEGER) for tests of the writer itself.
Status create_scratch_table(SqliteDatabase& database) {
  return database.write(
      [](SqliteConnection& c) { return c.execute("CREATE TABLE t (x INTEGER)", "create"); });
}

SqliteDatabase::WriteFunction insert_scratch_row(int x) {
  return [x](SqliteConnection& c) -> Status {
    auto insert = c.prepare("INSERT INTO t (x) VALUES (?1)");
    if (!insert.ok()) return insert.take_error();
    insert->bind_int64(1, x);
    auto ran = insert->run("insert");
    if (!ran.ok()) return ran.take_error();
    return {};
  };
}

TEST_F(SqliteDatabaseTest, AnswersWritesOnlyAfterTheLogWasSyncedAndInCommitOrder) {
  auto storage = open_ok();
  ASSERT_NE(storage, nullptr);
  SqliteDatabase& database = storage->database();
  ASSERT_TRUE(create_scratch_table(database).ok());
  const std::uint64_t syncs_before = database.stats().wal_syncs;
  EXPECT_GE(syncs_before, 1u);

  constexpr int kWrites = 200;
  std::mutex mutex;
  std::vector<int> answered;                   // guarded by mutex
  std::vector<std::uint64_t> syncs_seen;       // guarded by mutex
  std::vector<std::string> threads;            // guarded by mutex
  std::promise<void> all_answered;
  for (int i = 0; i < kWrites; ++i) {
    database.write_async(insert_scratch_row(i), [&, i](Status status) {
      EXPECT_TRUE(status.ok());
      std::lock_guard lock(mutex);
      answered.push_back(i);
      syncs_seen.push_back(database.stats().wal_syncs);
      threads.push_back(thread_name());
      if (answered.size() == kWrites) all_answered.set_value();
    });
  }
  ASSERT_EQ(all_answered.get_future().wait_for(std::chrono::seconds(30)), std::future_status::ready);
  std::lock_guard lock(mutex);
  for (int i = 0; i < kWrites; ++i) {
    EXPECT_EQ(answered[i], i);  // commit order
    EXPECT_GT(syncs_seen[i], syncs_before) << "write " << i << " was answered before any sync after it";
    // Queued behind other writes: the sync thread; alone on an idle writer: the writer itself.
    EXPECT_TRUE(threads[i] == "lk-sql-sync" || threads[i] == "lk-sql-writer") << threads[i];
  }
  EXPECT_EQ(raw_query("SELECT count(*) FROM t"), kWrites);

  // One write on an idle database: synced and answered by the writer, without a hand-off. (The sync thread
  // answered the last batches above and may still be about to go idle.)
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const std::uint64_t syncs_idle = database.stats().wal_syncs;
  std::promise<std::pair<std::string, std::uint64_t>> alone;
  database.write_async(insert_scratch_row(-1), [&](Status status) {
    EXPECT_TRUE(status.ok());
    alone.set_value({thread_name(), database.stats().wal_syncs});
  });
  auto [thread, syncs] = alone.get_future().get();
  EXPECT_EQ(thread, "lk-sql-writer");
  EXPECT_EQ(syncs, syncs_idle + 1);
}

TEST_F(SqliteDatabaseTest, AFailedLogSyncFailsItsWritesAndStopsLaterOnes) {
  auto storage = open_ok();
  ASSERT_NE(storage, nullptr);
  SqliteDatabase& database = storage->database();
  auto create = [](SqliteConnection& c) { return c.execute("CREATE TABLE IF NOT EXISTS t (x INTEGER)", "create"); };
  ASSERT_TRUE(database.write(create).ok());
  // The log vanishes under the open database (a disk or an operator): the next sync cannot reach it.
  ASSERT_EQ(::unlink((config_.sqlite_path + "-wal").c_str()), 0);
  Status failed = database.write(create);
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.error().code, ErrorCode::kInternal);
  EXPECT_NE(failed.error().message.find("write-ahead log"), std::string::npos) << failed.error().message;
  Status refused = database.write(create);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kUnavailable);
  EXPECT_NE(refused.error().message.find("failed disk sync"), std::string::npos) << refused.error().message;
}

TEST_F(SqliteDatabaseTest, NormalSynchronousAnswersOnTheWriterWithoutTheSyncThread) {
  config_.sqlite_synchronous = "normal";
  auto storage = open_ok();
  ASSERT_NE(storage, nullptr);
  std::promise<std::string> thread;
  storage->database().write_async([](SqliteConnection& c) { return c.execute("CREATE TABLE t (x INTEGER)", "create"); },
                                  [&](Status status) {
                                    EXPECT_TRUE(status.ok());
                                    thread.set_value(thread_name());
                                  });
  EXPECT_EQ(thread.get_future().get(), "lk-sql-writer");
  EXPECT_EQ(storage->database().stats().wal_syncs, 0u);
}

TEST_F(SqliteDatabaseTest, CommittedDurabilityWritesAreAnsweredWithoutASyncOfTheirOwn) {
  auto storage = open_ok();
  ASSERT_NE(storage, nullptr);
  SqliteDatabase& database = storage->database();
  ASSERT_TRUE(create_scratch_table(database).ok());
  const std::uint64_t syncs = database.stats().wal_syncs;
  EXPECT_GE(syncs, 1u);

  ASSERT_TRUE(database.write(insert_scratch_row(1), WriteKind::kAny, WriteDurability::kCommitted).ok());
  EXPECT_EQ(database.stats().wal_syncs, syncs);  // answered at its commit
  Result<std::int64_t> rows =
      database.read_returning<std::int64_t>([](SqliteConnection& c) -> Result<std::int64_t> {
        auto count = c.prepare("SELECT count(*) FROM t");
        if (!count.ok()) return count.take_error();
        if (!count->step("count").ok()) return make_error(ErrorCode::kInternal, "count");
        return count->column_int64(0);
      });
  ASSERT_TRUE(rows.ok());
  EXPECT_EQ(*rows, 1);  // visible once answered

  ASSERT_TRUE(database.write(insert_scratch_row(2)).ok());
  EXPECT_EQ(database.stats().wal_syncs, syncs + 1);  // a synced write is synced (and covers the earlier one)
}

TEST_F(SqliteDatabaseTest, ReportsLogSyncsBatchesAndDurableWritesToTheMetricsRegistry) {
  MetricsRegistry metrics;
  auto opened = SqliteStorage::open(config_, &metrics);
  ASSERT_TRUE(opened.ok()) << opened.error().message;
  SqliteDatabase& database = (*opened)->database();
  ASSERT_TRUE(create_scratch_table(database).ok());
  Histogram& syncs = metrics.histogram("latchkey_storage_wal_sync_seconds", "");
  Histogram& batches = metrics.histogram("latchkey_storage_write_batch_writes", "");
  Histogram& durable = metrics.histogram("latchkey_storage_durable_write_seconds", "");
  const std::uint64_t syncs_before = syncs.count();
  const std::uint64_t batches_before = batches.count();
  const std::uint64_t durable_before = durable.count();
  EXPECT_EQ(syncs_before, database.stats().wal_syncs);
  EXPECT_EQ(batches_before, database.stats().batches_committed);

  ASSERT_TRUE(database.write(insert_scratch_row(1)).ok());
  ASSERT_TRUE(database.write(insert_scratch_row(2), WriteKind::kAny, WriteDurability::kCommitted).ok());
  EXPECT_EQ(syncs.count(), syncs_before + 1);      // the committed-only batch has no sync of its own
  EXPECT_EQ(batches.count(), batches_before + 2);  // one transaction each
  EXPECT_EQ(durable.count(), durable_before + 1);  // synced writes only
  EXPECT_GT(durable.sum(), 0.0);
  const std::string text = metrics.render();
  EXPECT_NE(text.find("latchkey_storage_wal_sync_seconds_bucket{le=\"0.0001\"}"), std::string::npos);
  EXPECT_NE(text.find("latchkey_storage_write_batch_writes_bucket{le=\"1\"}"), std::string::npos);
}

TEST_F(SqliteDatabaseTest, MigrationsAreAppliedOnceAndReopeningIsIdempotent) {
  {
    auto storage = open_ok();
    ASSERT_NE(storage, nullptr);
    EXPECT_EQ(storage->database().schema_version(), SqliteDatabase::latest_schema_version());
    ASSERT_TRUE(storage->sessions().insert(make_session("kept")).ok());
  }
  const std::int64_t latest = SqliteDatabase::latest_schema_version();
  EXPECT_EQ(raw_query("SELECT count(*) FROM schema_migrations"), latest);
  EXPECT_EQ(raw_query("SELECT max(version) FROM schema_migrations"), latest);
  for (int i = 0; i < 2; ++i) {
    auto storage = open_ok();
    ASSERT_NE(storage, nullptr);
    EXPECT_EQ(storage->database().schema_version(), latest);
    auto found = storage->sessions().find("kept");
    ASSERT_TRUE(found.ok());
    EXPECT_TRUE(found->has_value());
  }
  EXPECT_EQ(raw_query("SELECT count(*) FROM schema_migrations"), latest);
  EXPECT_EQ(raw_query("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
                      "name = 'verification_sessions_by_expires_at'"),
            1);
}

// A file as written by a build that knew only migration 1, with one account in it.
TEST_F(SqliteDatabaseTest, MigratesAVersionOneDatabase) {
  std::filesystem::create_directories(std::filesystem::path(config_.sqlite_path).parent_path());
  {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(config_.sqlite_path.c_str(), &db), SQLITE_OK);
    const char* version_one = R"sql(
CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER);
INSERT INTO schema_migrations (version, applied_at) VALUES (1, 0);
CREATE TABLE verification_sessions (id TEXT NOT NULL PRIMARY KEY, version INTEGER NOT NULL,
  number TEXT NOT NULL, country_code TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
  pow_challenge BLOB NOT NULL, pow_bits INTEGER NOT NULL, pow_passed INTEGER NOT NULL, code_hash BLOB NOT NULL,
  code_expires_at INTEGER NOT NULL, code_attempts INTEGER NOT NULL, sms_sent INTEGER NOT NULL,
  calls_made INTEGER NOT NULL, next_sms_at INTEGER NOT NULL, next_call_at INTEGER NOT NULL,
  last_provider TEXT NOT NULL, verified_at INTEGER NOT NULL, consumed_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE INDEX verification_sessions_by_expires_at ON verification_sessions (expires_at);
CREATE TABLE accounts (uuid TEXT NOT NULL PRIMARY KEY, number TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE devices (account_uuid TEXT NOT NULL REFERENCES accounts (uuid) ON DELETE CASCADE,
  device_id INTEGER NOT NULL, password_hash BLOB NOT NULL, registration_id INTEGER NOT NULL,
  name BLOB NOT NULL, created_at INTEGER NOT NULL, last_seen_at INTEGER NOT NULL,
  PRIMARY KEY (account_uuid, device_id)) WITHOUT ROWID;
INSERT INTO accounts (uuid, number, created_at) VALUES ('uuid-old', '+33611111111', 1000);
INSERT INTO devices VALUES ('uuid-old', 1, x'68', 1234, x'', 1000, 1000);
)sql";
    char* message = nullptr;
    ASSERT_EQ(sqlite3_exec(db, version_one, nullptr, nullptr, &message), SQLITE_OK) << message;
    sqlite3_close(db);
  }

  auto storage = open_ok();
  ASSERT_NE(storage, nullptr);
  EXPECT_EQ(storage->database().schema_version(), SqliteDatabase::latest_schema_version());
  auto account = storage->accounts().find_by_uuid("uuid-old");
  ASSERT_TRUE(account.ok()) << account.error().message;
  ASSERT_TRUE(account->has_value());
  EXPECT_EQ((*account)->number, "+33611111111");
  EXPECT_TRUE((*account)->registration_lock_record.empty());
  ASSERT_EQ((*account)->devices.size(), 1u);

  ASSERT_TRUE(storage->accounts().set_registration_lock("uuid-old", "lock").ok());
  Backup backup;
  backup.account_uuid = "uuid-old";
  backup.access_key_record = "key";
  backup.data = "data";
  ASSERT_TRUE(storage->backups().put(backup).ok());
  ASSERT_TRUE(storage->notices().add("uuid-old", "k", "{}", 1).ok());
  ASSERT_TRUE(storage->accounts().delete_account("uuid-old").ok());  // cascades into the new tables
  storage.reset();

  EXPECT_EQ(raw_query("SELECT count(*) FROM schema_migrations"), SqliteDatabase::latest_schema_version());
  EXPECT_EQ(raw_query("SELECT count(*) FROM backups"), 0);
  EXPECT_EQ(raw_query("SELECT count(*) FROM notices"), 0);
  EXPECT_EQ(raw_query("SELECT count(*) FROM devices"), 0);
  EXPECT_EQ(raw_query("SELECT count(*) FROM sqlite_master WHERE type = 'index' AND "
                      "name IN ('notices_by_account_uuid_id', 'notices_by_created_at')"),
            2);
}

TEST_F(SqliteDatabaseTest, RefusesASchemaNewerThanTheBuild) {
  { ASSERT_NE(open_ok(), nullptr); }
  const int newer = SqliteDatabase::latest_schema_version() + 1;
  raw_query("INSERT INTO schema_migrations (version, applied_at) VALUES (" + std::to_string(newer) + ", 0)");

  auto opened = open_storage(config_);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::kInternal);
  EXPECT_NE(opened.error().message.find("newer"), std::string::npos) << opened.error().message;
  EXPECT_NE(opened.error().message.find(config_.sqlite_path), std::string::npos) << opened.error().message;
  EXPECT_EQ(raw_query("SELECT count(*) FROM schema_migrations"), newer);  // left untouched
}

TEST_F(SqliteDatabaseTest, RefusesBadSettingsAndUnknownBackends) {
  StorageConfig bad = config_;
  bad.sqlite_synchronous = "off";
  auto opened = open_storage(bad);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::kInternal);

  bad = config_;
  bad.backend = "postgres";
  opened = open_storage(bad);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::kInternal);
  EXPECT_EQ(opened.error().message, "postgres backend is not available in this build yet");

  bad.backend = "mysql";
  opened = open_storage(bad);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::kInternal);
}

TEST_F(SqliteDatabaseTest, RefusesAFileThatIsNotADatabase) {
  std::filesystem::create_directories(std::filesystem::path(config_.sqlite_path).parent_path());
  {
    int fd = ::open(config_.sqlite_path.c_str(), O_WRONLY | O_CREAT, 0600);
    ASSERT_GE(fd, 0);
    std::string garbage(4096, 'x');
    ASSERT_EQ(::write(fd, garbage.data(), garbage.size()), static_cast<ssize_t>(garbage.size()));
    ::close(fd);
  }
  auto opened = open_storage(config_);
  ASSERT_FALSE(opened.ok());
  EXPECT_EQ(opened.error().code, ErrorCode::kInternal);
  EXPECT_NE(opened.error().message.find(config_.sqlite_path), std::string::npos) << opened.error().message;
}

// Holds the writer inside a batch of its own until release(), so that later writes queue up and are taken as
// one batch.
class WriterHold {
 public:
  explicit WriterHold(SqliteDatabase& database) {
    std::promise<void> entered;
    std::future<void> writer_entered = entered.get_future();
    blocker_ = std::thread([this, &database, entered = std::move(entered)]() mutable {
      Status status = database.write([&](SqliteConnection&) -> Status {
        entered.set_value();
        released_.wait();
        return {};
      });
      EXPECT_TRUE(status.ok());
    });
    writer_entered.wait();
  }
  ~WriterHold() {
    release();
    blocker_.join();
  }
  void release() {
    if (!released_once_) release_.set_value();
    released_once_ = true;
  }

 private:
  std::promise<void> release_;
  std::shared_future<void> released_ = release_.get_future().share();
  bool released_once_ = false;
  std::thread blocker_;
};

bool wait_for_queued_writes(const SqliteDatabase& database, std::size_t count) {
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (database.queued_writes() < count && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  return database.queued_writes() == count;
}

SqliteDatabase::WriteFunction insert_session_row(const std::string& id) {
  return [id](SqliteConnection& connection) -> Status {
    auto statement = connection.prepare(
        "INSERT INTO verification_sessions (id, version, number, country_code, "
        "created_at, expires_at, pow_challenge, pow_bits, pow_passed, code_hash, "
        "code_expires_at, code_attempts, sms_sent, calls_made, next_sms_at, "
        "next_call_at, last_provider, verified_at, consumed_at) VALUES (?1, 0, "
        "'', '', 0, 0, x'', 0, 0, x'', 0, 0, 0, 0, 0, 0, '', 0, 0)");
    if (!statement.ok()) return statement.take_error();
    statement->bind_text(1, id);
    Result<int> ran = statement->run("inserting");
    if (!ran.ok()) return ran.take_error();
    return {};
  };
}

TEST_F(SqliteDatabaseTest, FailingClosureDoesNotFailItsBatchNeighbours) {
  auto storage = open_ok();
  ASSERT_NE(storage, nullptr);
  SqliteDatabase& database = storage->database();
  ASSERT_TRUE(storage->sessions().insert(make_session("existing")).ok());

  WriterHold hold(database);
  const SqliteWriterStats before = database.stats();
  Status first, failing, duplicate, last;
  std::vector<std::thread> writers;
  writers.emplace_back([&] { first = database.write(insert_session_row("first")); });
  writers.emplace_back([&] {
    failing = database.write([&](SqliteConnection& connection) -> Status {
      LK_RETURN_IF_ERROR(insert_session_row("rolled-back")(connection));  // applied, then undone by the error
      return make_error(ErrorCode::kConflict, "closure failed on purpose");
    });
  });
  writers.emplace_back([&] { duplicate = database.write(insert_session_row("existing")); });  // constraint
  writers.emplace_back([&] { last = database.write(insert_session_row("last")); });
  ASSERT_TRUE(wait_for_queued_writes(database, 4));
  hold.release();
  for (std::thread& writer : writers) writer.join();

  const SqliteWriterStats after = database.stats();
  EXPECT_EQ(after.batches_committed - before.batches_committed, 2u);  // the hold's batch, then all four
  EXPECT_TRUE(first.ok());
  EXPECT_TRUE(last.ok());
  ASSERT_FALSE(failing.ok());
  EXPECT_EQ(failing.error().code, ErrorCode::kConflict);
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.error().code, ErrorCode::kInternal);
  EXPECT_EQ(duplicate.error().message.find("existing"), std::string::npos);  // no bound value in messages

  EXPECT_TRUE(storage->sessions().find("first")->has_value());
  EXPECT_TRUE(storage->sessions().find("last")->has_value());
  EXPECT_FALSE(storage->sessions().find("rolled-back")->has_value());
}

TEST_F(SqliteDatabaseTest, WritesArrivingDuringASyncWaitForItInOneOpenTransaction) {
  config_.write_batch_max = 2;
  auto storage = open_ok();
  ASSERT_NE(storage, nullptr);
  SqliteDatabase& database = storage->database();
  ASSERT_TRUE(create_scratch_table(database).ok());

  std::promise<void> release_sync;
  std::shared_future<void> sync_released = release_sync.get_future().share();
  std::promise<std::string> first_answered;
  std::atomic<int> answered{0};
  auto counted = [&](Status status) {
    EXPECT_TRUE(status.ok());
    answered.fetch_add(1);
  };
  std::uint64_t batches_before = 0;
  {
    WriterHold hold(database);
    batches_before = database.stats().batches_committed;
    // Batch [1, 2] is committed with 3 still queued, so the sync thread answers it, and blocks in 1's answer.
    database.write_async(insert_scratch_row(1), [&](Status status) {
      EXPECT_TRUE(status.ok());
      first_answered.set_value(thread_name());
      sync_released.wait();
      answered.fetch_add(1);
    });
    database.write_async(insert_scratch_row(2), counted);
    database.write_async(insert_scratch_row(3), counted);
    ASSERT_TRUE(wait_for_queued_writes(database, 3));
  }
  ASSERT_EQ(first_answered.get_future().get(), "lk-sql-sync");

  // 3 runs, and its transaction stays open while the sync thread is busy: not committed, not visible.
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(database.stats().batches_committed, batches_before + 2);  // the hold's, then [1, 2]
  EXPECT_EQ(raw_query("SELECT count(*) FROM t"), 2);
  // 4 joins the same transaction, which is then full (write_batch_max 2) and committed.
  database.write_async(insert_scratch_row(4), counted);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (database.stats().batches_committed < batches_before + 3 &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(database.stats().batches_committed, batches_before + 3);
  EXPECT_EQ(raw_query("SELECT count(*) FROM t"), 4);
  EXPECT_EQ(answered.load(), 0);  // nobody overtook 1's answer

  release_sync.set_value();
  while (answered.load() < 4 && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
  EXPECT_EQ(answered.load(), 4);
}

TEST_F(SqliteDatabaseTest, ChecksBeforeWritingClosuresRunWithoutASavepoint) {
  auto storage = open_ok();
  ASSERT_NE(storage, nullptr);
  SqliteDatabase& database = storage->database();
  constexpr WriteKind kChecks = WriteKind::kChecksBeforeWriting;

  {  // A refusal before any change fails that closure alone.
    WriterHold hold(database);
    Status first, refused, unguarded, last;
    bool savepoint_open = true;
    std::vector<std::thread> writers;
    writers.emplace_back([&] { first = database.write(insert_session_row("first")); });
    writers.emplace_back([&] {
      refused = database.write(
          [](SqliteConnection&) -> Status {
            return make_error(ErrorCode::kConflict, "refused before writing");
          },
          kChecks);
    });
    writers.emplace_back([&] {
      unguarded = database.write(
          [&](SqliteConnection& connection) -> Status {
            // No savepoint of the writer's is open around this closure.
            savepoint_open = connection.execute("RELEASE batch_write", "probing").ok();
            return insert_session_row("unguarded")(connection);
          },
          kChecks);
    });
    writers.emplace_back([&] { last = database.write(insert_session_row("last")); });
    ASSERT_TRUE(wait_for_queued_writes(database, 4));
    hold.release();
    for (std::thread& writer : writers) writer.join();
    EXPECT_TRUE(first.ok());
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.error().code, ErrorCode::kConflict);
    EXPECT_TRUE(unguarded.ok()) << unguarded.error().message;
    EXPECT_FALSE(savepoint_open);
    EXPECT_TRUE(last.ok());
    EXPECT_TRUE(storage->sessions().find("unguarded")->has_value());
    EXPECT_TRUE(storage->sessions().find("last")->has_value());
  }

  {  // An error after a change cannot be undone alone: the whole batch is rolled back.
    WriterHold hold(database);
    Status neighbour, broken;
    std::vector<std::thread> writers;
    writers.emplace_back([&] { neighbour = database.write(insert_session_row("neighbour")); });
    writers.emplace_back([&] {
      broken = database.write(
          [](SqliteConnection& connection) -> Status {
            LK_RETURN_IF_ERROR(insert_session_row("half-written")(connection));
            return make_error(ErrorCode::kConflict, "failed after writing");
          },
          kChecks);
    });
    ASSERT_TRUE(wait_for_queued_writes(database, 2));
    hold.release();
    for (std::thread& writer : writers) writer.join();
    ASSERT_FALSE(neighbour.ok());
    EXPECT_EQ(neighbour.error().code, ErrorCode::kInternal);
    ASSERT_FALSE(broken.ok());
    EXPECT_EQ(broken.error().code, ErrorCode::kInternal);
    EXPECT_FALSE(storage->sessions().find("neighbour")->has_value());
    EXPECT_FALSE(storage->sessions().find("half-written")->has_value());
  }

  // The writer goes on.
  EXPECT_TRUE(database.write(insert_session_row("after"), kChecks).ok());
  EXPECT_TRUE(storage->sessions().find("after")->has_value());
}

TEST_F(SqliteDatabaseTest, ReadsRunWhileTheWriterHoldsATransaction) {
  auto storage = open_ok();
  ASSERT_NE(storage, nullptr);
  ASSERT_TRUE(storage->sessions().insert(make_session("committed")).ok());

  std::promise<void> release_writer;
  std::shared_future<void> writer_released = release_writer.get_future().share();
  std::promise<void> writer_entered;
  std::thread writer([&] {
    Status status = storage->database().write([&](SqliteConnection& connection) -> Status {
      auto statement = connection.prepare("DELETE FROM verification_sessions");
      if (!statement.ok()) return statement.take_error();
      Result<int> ran = statement->run("deleting");
      if (!ran.ok()) return ran.take_error();
      writer_entered.set_value();
      writer_released.wait();
      return {};
    });
    EXPECT_TRUE(status.ok());
  });
  writer_entered.get_future().wait();
  auto found = storage->sessions().find("committed");  // must not wait for the writer
  release_writer.set_value();
  writer.join();
  ASSERT_TRUE(found.ok()) << found.error().message;
  EXPECT_TRUE(found->has_value());  // the uncommitted delete is invisible
  EXPECT_FALSE(storage->sessions().find("committed")->has_value());
}

// Commits never checkpoint; the checkpoint thread does, and keeps the log bounded while writes keep coming and
// a reader holds an old snapshot for a while.
TEST_F(SqliteDatabaseTest, CheckpointsRunOffTheWriterAndKeepTheLogBounded) {
  config_.checkpoint_pages = 16;
  auto storage = open_ok();
  ASSERT_NE(storage, nullptr);
  EXPECT_EQ(storage->database().checkpoints(), 0u);
  std::atomic<bool> stop{false};
  std::thread reader([&] {
    while (!stop) {
      (void)storage->database().read([](SqliteConnection&) -> Status {
        std::this_thread::sleep_for(2ms);  // a snapshot held across several commits
        return {};
      });
      std::this_thread::sleep_for(1ms);
    }
  });
  std::vector<std::thread> writers;
  for (int t = 0; t < 4; ++t) {
    writers.emplace_back([&, t] {
      for (int i = 0; i < 150; ++i) {
        auto session = make_session("s" + std::to_string(t) + "-" + std::to_string(i));
        ASSERT_TRUE(storage->sessions().insert(session).ok());
      }
    });
  }
  for (auto& w : writers) w.join();
  stop = true;
  reader.join();
  for (int i = 0; i < 200 && storage->database().checkpoints() == 0; ++i) std::this_thread::sleep_for(5ms);
  EXPECT_GT(storage->database().checkpoints(), 0u);
  // 600 sessions of a few hundred bytes are dozens of pages; without checkpoints every commit would append.
  const auto wal_bytes = std::filesystem::file_size(config_.sqlite_path + "-wal");
  EXPECT_LT(wal_bytes, 4u * 16u * 4096u * 4u) << wal_bytes;
  EXPECT_EQ(storage->sessions().find("s3-149")->has_value(), true);
  storage->close();
  EXPECT_EQ(raw_query("SELECT count(*) FROM verification_sessions"), 600);
}

// Past the threshold the log keeps growing until it can start over (here a reader pins an old snapshot, as a busy
// server's readers do); a checkpoint (two fsyncs) is then due after each further quarter of the threshold, not
// after every commit.
TEST_F(SqliteDatabaseTest, CheckpointsAreSpacedByAppendedPagesNotByCommits) {
  config_.checkpoint_pages = 200;
  auto storage = open_ok();
  ASSERT_NE(storage, nullptr);
  std::atomic<bool> pinned{false}, release{false};
  std::thread reader([&] {
    (void)storage->database().read([&](SqliteConnection& connection) -> Status {
      LK_RETURN_IF_ERROR(connection.execute("SELECT count(*) FROM verification_sessions", "pinning a snapshot"));
      pinned = true;
      while (!release) std::this_thread::sleep_for(1ms);
      return {};
    });
  });
  while (!pinned) std::this_thread::sleep_for(1ms);
  const std::string wal = config_.sqlite_path + "-wal";
  auto frames = [&] { return std::filesystem::exists(wal) ? std::filesystem::file_size(wal) / (4096 + 24) : 0; };
  int commits_past_threshold = 0;
  std::uint64_t checkpoints_at_threshold = 0;
  for (int i = 0; frames() < 650 && i < 5000; ++i) {
    ASSERT_TRUE(storage->sessions().insert(make_session("c" + std::to_string(i))).ok());
    std::this_thread::sleep_for(200us);  // lets the checkpoint thread keep up, as it would between batches
    if (frames() < 200) {
      checkpoints_at_threshold = storage->database().checkpoints();
    } else {
      ++commits_past_threshold;
    }
  }
  release = true;
  reader.join();
  const std::uint64_t checkpoints = storage->database().checkpoints() - checkpoints_at_threshold;
  EXPECT_GT(commits_past_threshold, 40);
  EXPECT_GT(checkpoints, 0u);
  EXPECT_LE(checkpoints, static_cast<std::uint64_t>(commits_past_threshold) / 4) << "a checkpoint after most commits";
}

// A child process writes sessions from several threads and reports each acknowledged id over a pipe; it is
// killed with SIGKILL mid-stream. Every id it reported must be in the file afterwards.
TEST_F(SqliteDatabaseTest, AcknowledgedWritesSurviveSigkill) {
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(pipe_fds[0]);
    auto opened = open_storage(config_);
    if (!opened.ok()) ::_exit(2);
    std::unique_ptr<Storage> storage = std::move(opened).value();
    std::vector<std::thread> threads;
    for (std::uint32_t t = 0; t < 4; ++t) {
      threads.emplace_back([&storage, t, fd = pipe_fds[1]] {
        for (std::uint32_t i = 0;; ++i) {
          const std::uint32_t id = t * 10'000'000 + i;
          if (!storage->sessions().insert(make_session("k" + std::to_string(id))).ok()) ::_exit(3);
          if (::write(fd, &id, sizeof id) != sizeof id) ::_exit(4);  // atomic: smaller than PIPE_BUF
        }
      });
    }
    for (std::thread& thread : threads) thread.join();
    ::_exit(0);
  }
  ::close(pipe_fds[1]);

  std::vector<std::uint32_t> acknowledged;
  std::string pending;
  bool killed = false;
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  for (;;) {
    pollfd poll_fd{pipe_fds[0], POLLIN, 0};
    if (::poll(&poll_fd, 1, 1000) < 0) break;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(child, SIGKILL);
      ADD_FAILURE() << "the child did not report enough writes in time";
      break;
    }
    char buffer[4096];
    const ssize_t n = ::read(pipe_fds[0], buffer, sizeof buffer);
    if (n <= 0) break;  // EOF: the child is gone and the pipe is drained
    pending.append(buffer, static_cast<std::size_t>(n));
    while (pending.size() >= sizeof(std::uint32_t)) {
      std::uint32_t id;
      std::memcpy(&id, pending.data(), sizeof id);
      pending.erase(0, sizeof id);
      acknowledged.push_back(id);
    }
    if (!killed && acknowledged.size() >= 400) {
      ::kill(child, SIGKILL);
      killed = true;
    }
  }
  ::close(pipe_fds[0]);
  int wait_status = 0;
  ASSERT_EQ(::waitpid(child, &wait_status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(wait_status)) << "child exited with " << WEXITSTATUS(wait_status);
  EXPECT_EQ(WTERMSIG(wait_status), SIGKILL);
  ASSERT_GE(acknowledged.size(), 400u);

  auto storage = open_ok();
  ASSERT_NE(storage, nullptr);
  int missing = 0;
  for (std::uint32_t id : acknowledged) {
    auto found = storage->sessions().find("k" + std::to_string(id));
    if (!found.ok() || !found->has_value()) ++missing;
  }
  EXPECT_EQ(missing, 0) << "of " << acknowledged.size() << " acknowledged writes";
}

}  // namespace
}  // namespace latchkey
