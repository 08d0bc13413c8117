// The relay's stores (KeyStore, MessageStore) against every storage backend: prekeys handed out once each,
// queued envelopes kept in id order until acknowledged by their own device, durable across reopening, and
// removed with their device. The per-device queue count (temp.queue_counts on SQLite's writer connection)
// must always equal the number of queued envelopes when the device has an entry, or queue limits drift.
#include "storage/sqlite/sqlite_storage.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <future>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "storage/storage.h"

namespace latchkey {
namespace {

constexpr EpochMillis kNow = 1'700'000'000'000;

std::string make_temp_dir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "latchkey-relay-XXXXXX").string();
  char* made = ::mkdtemp(pattern.data());
  if (made == nullptr) std::abort();
  return pattern;
}

// A backend under test. `open` opens storage whose data lives in `directory` (the same directory again finds
// the same data). `queued_counter` reads the backend's own per-device queue count, nullopt when it keeps none
// for the device (none queued, or not counted yet).
struct RelayBackend {
  std::string name;
  std::function<Result<std::unique_ptr<Storage>>(const std::string& directory)> open;
  std::function<Result<std::optional<std::int64_t>>(Storage&, const std::string& uuid, std::uint32_t device_id)>
      queued_counter;
};

void PrintTo(const RelayBackend& backend, std::ostream* out) { *out << backend.name; }

Result<std::unique_ptr<Storage>> open_sqlite_in(const std::string& directory) {
  StorageConfig config;
  config.backend = "sqlite";
  config.sqlite_path = directory + "/latchkey.db";
  config.write_batch_max = 64;
  config.read_connections = 4;
  return open_storage(config);
}

Result<std::optional<std::int64_t>> sqlite_queued_counter(Storage& storage, const std::string& uuid,
                                                          std::uint32_t device_id) {
  auto* sqlite = dynamic_cast<SqliteStorage*>(&storage);
  if (sqlite == nullptr) return make_error(ErrorCode::kInternal, "not a SqliteStorage");
  // The counts live in the writer's connection: read them there, after every write submitted before.
  return sqlite->database().write_returning<std::optional<std::int64_t>>(
      [&](SqliteConnection& connection) -> Result<std::optional<std::int64_t>> {
        auto select = connection.prepare(
            "SELECT queued FROM temp.queue_counts WHERE account_uuid = ?1 AND device_id = ?2");
        if (!select.ok()) return select.take_error();
        select->bind_text(1, uuid);
        select->bind_int64(2, device_id);
        Result<bool> row = select->step("reading the queue count");
        if (!row.ok()) return row.take_error();
        if (!*row) return std::optional<std::int64_t>();
        return std::optional<std::int64_t>(select->column_int64(0));
      },
      WriteKind::kChecksBeforeWriting);
}

// 33 bytes: the type byte 0x05 and 32 bytes derived from `seed`.
std::string public_key(char seed) {
  std::string key(33, seed);
  key[0] = 0x05;
  return key;
}

SignedPreKey make_signed_prekey(std::uint32_t key_id, char seed) {
  return SignedPreKey{key_id, public_key(seed), std::string(64, seed)};
}

// An upload of `identity` with a signed prekey and one-time prekeys numbered first_id.. (count of them).
KeyUpload make_upload(const std::string& identity, bool primary, std::uint32_t first_id, int count) {
  KeyUpload upload;
  upload.identity_key = identity;
  upload.may_set_identity = primary;
  upload.signed_prekey = make_signed_prekey(first_id + 1000, 's');
  for (int i = 0; i < count; ++i)
    upload.prekeys.push_back(PreKey{first_id + i, public_key(static_cast<char>('a' + i % 26))});
  return upload;
}

class RelayStoreTest : public ::testing::TestWithParam<RelayBackend> {
 protected:
  static constexpr char kAlice[] = "uuid-alice";
  static constexpr char kBob[] = "uuid-bob";

  void SetUp() override {
    directory_ = make_temp_dir();
    ASSERT_NO_FATAL_FAILURE(open());
    ASSERT_NO_FATAL_FAILURE(create_account(kAlice, "+33611111111", 100));
    ASSERT_NO_FATAL_FAILURE(create_account(kBob, "+33622222222", 200));
  }
  void TearDown() override {
    if (storage_) storage_->close();
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

  AccountStore& accounts() { return storage_->accounts(); }
  KeyStore& keys() { return storage_->keys(); }
  MessageStore& messages() { return storage_->messages(); }

  static Device make_device(std::uint32_t id, int registration_id) {
    Device device;
    device.id = id;
    device.password_hash = "hash";
    device.registration_id = registration_id;
    device.created_at = device.last_seen_at = kNow;
    return device;
  }

  void create_account(const std::string& uuid, const std::string& number, int registration_id) {
    auto created = accounts().create_or_replace(number, uuid, make_device(1, registration_id), kNow);
    ASSERT_TRUE(created.ok()) << created.error().message;
  }

  // Links a new device to `uuid` (through a link code, as DeviceService does); answers its id.
  std::uint32_t link(const std::string& uuid, int registration_id) {
    std::string code = "code-" + std::to_string(next_code_++);
    Status put = accounts().put_link_code(uuid, code, kNow + 600'000);
    EXPECT_TRUE(put.ok()) << put.error().message;
    auto linked = accounts().link_device(code, make_device(0, registration_id), 5, kNow);
    EXPECT_TRUE(linked.ok()) << linked.error().message;
    return linked.ok() ? linked->device_id : 0;
  }

  static Envelope make_envelope(const std::string& uuid, std::uint32_t device_id, int registration_id,
                                const std::string& content) {
    Envelope e;
    e.destination_uuid = uuid;
    e.destination_device = device_id;
    e.destination_registration_id = registration_id;
    e.source_uuid = kBob;
    e.source_device = 1;
    e.type = 1;
    e.timestamp = 1234;
    e.server_timestamp = 5678;
    e.content = content;
    return e;
  }

  // insert(), waiting for its answer.
  Result<std::vector<Envelope>> insert(std::vector<Envelope> envelopes, std::size_t max_queued = 1000) {
    std::promise<Result<std::vector<Envelope>>> answered;
    auto future = answered.get_future();
    messages().insert(std::move(envelopes), max_queued,
                      [&answered](Result<std::vector<Envelope>> stored) { answered.set_value(std::move(stored)); });
    return future.get();
  }

  // Inserts one envelope for Alice's primary (registration id 100); answers its id (0 on failure).
  std::int64_t insert_for_alice(const std::string& content, std::uint32_t device_id = 1, int registration_id = 100) {
    auto stored = insert({make_envelope(kAlice, device_id, registration_id, content)});
    EXPECT_TRUE(stored.ok()) << stored.error().message;
    if (!stored.ok() || stored->size() != 1) return 0;
    return (*stored)[0].id;
  }

  std::vector<std::int64_t> fetch_ids(const std::string& uuid, std::uint32_t device_id, std::int64_t after = 0,
                                      int limit = 1000) {
    auto fetched = messages().fetch(uuid, device_id, after, limit);
    EXPECT_TRUE(fetched.ok()) << fetched.error().message;
    std::vector<std::int64_t> ids;
    if (fetched.ok())
      for (const Envelope& e : *fetched) ids.push_back(e.id);
    return ids;
  }

  std::size_t count(const std::string& uuid, std::uint32_t device_id) {
    auto n = messages().count(uuid, device_id);
    EXPECT_TRUE(n.ok()) << n.error().message;
    return n.ok() ? *n : 9999;
  }

  std::size_t prekeys(const std::string& uuid, std::uint32_t device_id) {
    auto n = keys().count_prekeys(uuid, device_id);
    EXPECT_TRUE(n.ok()) << n.error().message;
    return n.ok() ? *n : 9999;
  }

  // The backend's queue count for the device; -1 when it keeps none.
  std::int64_t queued(const std::string& uuid, std::uint32_t device_id) {
    auto counter = GetParam().queued_counter(*storage_, uuid, device_id);
    EXPECT_TRUE(counter.ok()) << counter.error().message;
    return counter.ok() && counter->has_value() ? **counter : -1;
  }

  // The count agrees with the envelopes actually queued, and a device with none queued has no count (the
  // counts stay as small as the queues).
  void expect_counter_matches(const std::string& uuid, std::uint32_t device_id, std::size_t expected) {
    EXPECT_EQ(count(uuid, device_id), expected);
    EXPECT_EQ(queued(uuid, device_id), expected == 0 ? -1 : static_cast<std::int64_t>(expected));
  }

  // Stores `n` envelopes for Alice's first device under a queue limit of `max`, checking the count after
  // each; answers their ids (fewer if one was refused).
  std::vector<std::int64_t> fill_alice(std::size_t n, std::size_t max) {
    std::vector<std::int64_t> ids;
    for (std::size_t i = 0; i < n; ++i) {
      auto stored = insert({make_envelope(kAlice, 1, 100, "m" + std::to_string(i))}, max);
      EXPECT_TRUE(stored.ok()) << stored.error().message;
      if (!stored.ok()) break;
      ids.push_back((*stored)[0].id);
      expect_counter_matches(kAlice, 1, i + 1);
    }
    return ids;
  }

  AccountBundles take(const std::string& uuid, std::optional<std::uint32_t> device_id) {
    auto taken = keys().take_bundles(uuid, device_id);
    EXPECT_TRUE(taken.ok()) << taken.error().message;
    return taken.ok() ? *taken : AccountBundles{};
  }

  std::string directory_;
  std::unique_ptr<Storage> storage_;
  int next_code_ = 0;
  const std::string identity_ = public_key('I');
};

// ---------------------------------------------------------------------------------------------------------
// Keys

TEST_P(RelayStoreTest, StoredKeysAreCountedAndHandedOutWithTheSignedPreKey) {
  KeyUpload upload = make_upload(identity_, /*primary=*/true, 1, 3);
  ASSERT_TRUE(keys().store(kAlice, 1, upload, 100).ok());
  EXPECT_EQ(prekeys(kAlice, 1), 3u);
  EXPECT_EQ(prekeys(kAlice, 2), 0u);     // no such device
  EXPECT_EQ(prekeys("uuid-nobody", 1), 0u);

  AccountBundles bundles = take(kAlice, 1);
  EXPECT_EQ(bundles.identity_key, identity_);
  ASSERT_EQ(bundles.devices.size(), 1u);
  const DeviceBundle& bundle = bundles.devices[0];
  EXPECT_EQ(bundle.device_id, 1u);
  EXPECT_EQ(bundle.registration_id, 100);
  EXPECT_EQ(bundle.signed_prekey.key_id, upload.signed_prekey->key_id);
  EXPECT_EQ(bundle.signed_prekey.public_key, upload.signed_prekey->public_key);
  EXPECT_EQ(bundle.signed_prekey.signature, upload.signed_prekey->signature);
  ASSERT_TRUE(bundle.prekey.has_value());
  EXPECT_EQ(bundle.prekey->key_id, 1u);  // oldest (lowest) id first
  EXPECT_EQ(bundle.prekey->public_key, upload.prekeys[0].public_key);
  EXPECT_EQ(prekeys(kAlice, 1), 2u);
}

TEST_P(RelayStoreTest, EachPreKeyIsTakenOnceThenBundlesComeWithoutOne) {
  ASSERT_TRUE(keys().store(kAlice, 1, make_upload(identity_, true, 10, 3), 100).ok());
  std::set<std::uint32_t> seen;
  for (int i = 0; i < 3; ++i) {
    AccountBundles bundles = take(kAlice, std::nullopt);
    ASSERT_EQ(bundles.devices.size(), 1u);
    ASSERT_TRUE(bundles.devices[0].prekey.has_value()) << "take " << i;
    EXPECT_TRUE(seen.insert(bundles.devices[0].prekey->key_id).second) << "handed out twice";
    EXPECT_EQ(prekeys(kAlice, 1), 2u - i);
  }
  EXPECT_EQ(seen, (std::set<std::uint32_t>{10, 11, 12}));

  AccountBundles empty = take(kAlice, 1);
  ASSERT_EQ(empty.devices.size(), 1u);  // the signed prekey is still handed out
  EXPECT_FALSE(empty.devices[0].prekey.has_value());
  EXPECT_EQ(empty.devices[0].signed_prekey.key_id, 1010u);
  EXPECT_EQ(prekeys(kAlice, 1), 0u);
}

TEST_P(RelayStoreTest, ConcurrentTakersNeverShareAPreKey) {
  constexpr int kKeys = 40;
  ASSERT_TRUE(keys().store(kAlice, 1, make_upload(identity_, true, 1, kKeys), 1000).ok());
  constexpr int kThreads = 6;
  constexpr int kTakesEach = 10;  // 60 takes for 40 keys
  std::vector<std::vector<std::uint32_t>> taken(kThreads);
  std::atomic<int> without_key{0};
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kTakesEach; ++i) {
        auto bundles = keys().take_bundles(kAlice, 1);
        if (!bundles.ok() || bundles->devices.size() != 1) {
          ++failures;
          continue;
        }
        if (bundles->devices[0].prekey)
          taken[t].push_back(bundles->devices[0].prekey->key_id);
        else
          ++without_key;
      }
    });
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  std::multiset<std::uint32_t> all;
  for (const auto& ids : taken) all.insert(ids.begin(), ids.end());
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kKeys));
  EXPECT_EQ(std::set<std::uint32_t>(all.begin(), all.end()).size(), static_cast<std::size_t>(kKeys))
      << "a prekey was handed out twice";
  EXPECT_EQ(without_key.load(), kThreads * kTakesEach - kKeys);
  EXPECT_EQ(prekeys(kAlice, 1), 0u);
}

TEST_P(RelayStoreTest, BundlesOfEveryDeviceAreOrderedAndEachTakesItsOwnPreKey) {
  std::uint32_t second = link(kAlice, 300);
  ASSERT_EQ(second, 2u);
  std::uint32_t third = link(kAlice, 301);  // linked, but never uploads keys
  ASSERT_EQ(third, 3u);
  ASSERT_TRUE(keys().store(kAlice, 1, make_upload(identity_, true, 1, 2), 100).ok());
  KeyUpload linked = make_upload(identity_, false, 50, 2);
  linked.signed_prekey = make_signed_prekey(77, 't');
  ASSERT_TRUE(keys().store(kAlice, second, linked, 100).ok());

  AccountBundles all = take(kAlice, std::nullopt);
  ASSERT_EQ(all.devices.size(), 2u);  // device 3 has no signed prekey
  EXPECT_EQ(all.devices[0].device_id, 1u);
  EXPECT_EQ(all.devices[1].device_id, 2u);
  EXPECT_EQ(all.devices[1].registration_id, 300);
  EXPECT_EQ(all.devices[1].signed_prekey.key_id, 77u);
  ASSERT_TRUE(all.devices[0].prekey && all.devices[1].prekey);
  EXPECT_EQ(all.devices[0].prekey->key_id, 1u);
  EXPECT_EQ(all.devices[1].prekey->key_id, 50u);
  EXPECT_EQ(prekeys(kAlice, 1), 1u);
  EXPECT_EQ(prekeys(kAlice, 2), 1u);

  AccountBundles only_second = take(kAlice, second);
  ASSERT_EQ(only_second.devices.size(), 1u);
  EXPECT_EQ(only_second.devices[0].device_id, 2u);
  EXPECT_EQ(prekeys(kAlice, 1), 1u);  // untouched
  EXPECT_EQ(prekeys(kAlice, 2), 0u);

  EXPECT_TRUE(take(kAlice, third).devices.empty());
}

TEST_P(RelayStoreTest, AccountsWithoutKeysAnswerNoBundles) {
  EXPECT_TRUE(take("uuid-nobody", std::nullopt).devices.empty());
  EXPECT_TRUE(take(kBob, std::nullopt).devices.empty());  // no identity key yet
  EXPECT_TRUE(take(kBob, 1).devices.empty());
  ASSERT_TRUE(keys().store(kBob, 1, make_upload(identity_, true, 1, 1), 100).ok());
  EXPECT_TRUE(take(kBob, 9).devices.empty());  // no such device
}

TEST_P(RelayStoreTest, OnlyThePrimaryMaySetTheIdentityKey) {
  std::uint32_t second = link(kAlice, 300);
  // A linked device cannot upload before the primary has set the identity.
  Status early = keys().store(kAlice, second, make_upload(identity_, false, 1, 1), 100);
  ASSERT_FALSE(early.ok());
  EXPECT_EQ(early.error().code, ErrorCode::kConflict);

  ASSERT_TRUE(keys().store(kAlice, 1, make_upload(identity_, true, 1, 1), 100).ok());
  Status other = keys().store(kAlice, second, make_upload(public_key('X'), false, 1, 1), 100);
  ASSERT_FALSE(other.ok());
  EXPECT_EQ(other.error().code, ErrorCode::kConflict);
  EXPECT_EQ(prekeys(kAlice, second), 0u);
  EXPECT_TRUE(keys().store(kAlice, second, make_upload(identity_, false, 1, 1), 100).ok());
  EXPECT_EQ(prekeys(kAlice, second), 1u);

  Status unknown = keys().store(kAlice, 9, make_upload(identity_, true, 1, 1), 100);
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
  Status nobody = keys().store("uuid-nobody", 1, make_upload(identity_, true, 1, 1), 100);
  ASSERT_FALSE(nobody.ok());
  EXPECT_EQ(nobody.error().code, ErrorCode::kNotFound);
}

TEST_P(RelayStoreTest, ChangingTheIdentityDropsEveryKeyOfTheOldOne) {
  std::uint32_t second = link(kAlice, 300);
  ASSERT_TRUE(keys().store(kAlice, 1, make_upload(identity_, true, 1, 2), 100).ok());
  ASSERT_TRUE(keys().store(kAlice, second, make_upload(identity_, false, 1, 3), 100).ok());
  ASSERT_TRUE(keys().store(kAlice, 1, make_upload(public_key('N'), true, 20, 1), 100).ok());
  EXPECT_EQ(prekeys(kAlice, second), 0u);
  EXPECT_EQ(prekeys(kAlice, 1), 1u);  // its own old ones went too: only the upload's new prekey is left
  AccountBundles bundles = take(kAlice, std::nullopt);
  EXPECT_EQ(bundles.identity_key, public_key('N'));
  ASSERT_EQ(bundles.devices.size(), 1u);
  EXPECT_EQ(bundles.devices[0].device_id, 1u);
}

TEST_P(RelayStoreTest, PreKeysAreReplacedByIdAndLimitedInNumber) {
  ASSERT_TRUE(keys().store(kAlice, 1, make_upload(identity_, true, 1, 3), 5).ok());
  // Ids 3..5: 3 replaces the stored one, so the pool holds 5.
  KeyUpload again = make_upload(identity_, true, 3, 3);
  again.prekeys[0].public_key = public_key('R');
  ASSERT_TRUE(keys().store(kAlice, 1, again, 5).ok());
  EXPECT_EQ(prekeys(kAlice, 1), 5u);

  Status over = keys().store(kAlice, 1, make_upload(identity_, true, 6, 1), 5);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.error().code, ErrorCode::kMalformedRequest);
  EXPECT_EQ(prekeys(kAlice, 1), 5u);  // nothing of the refused upload was kept

  take(kAlice, 1);  // id 1
  take(kAlice, 1);  // id 2
  AccountBundles third = take(kAlice, 1);
  ASSERT_EQ(third.devices.size(), 1u);
  ASSERT_TRUE(third.devices[0].prekey.has_value());
  EXPECT_EQ(third.devices[0].prekey->key_id, 3u);
  EXPECT_EQ(third.devices[0].prekey->public_key, public_key('R'));
}

TEST_P(RelayStoreTest, RemovingADeviceRemovesItsKeys) {
  std::uint32_t second = link(kAlice, 300);
  ASSERT_TRUE(keys().store(kAlice, 1, make_upload(identity_, true, 1, 1), 100).ok());
  ASSERT_TRUE(keys().store(kAlice, second, make_upload(identity_, false, 1, 4), 100).ok());
  ASSERT_TRUE(accounts().remove_device(kAlice, second).ok());
  EXPECT_EQ(prekeys(kAlice, second), 0u);
  EXPECT_TRUE(take(kAlice, second).devices.empty());
  EXPECT_EQ(link(kAlice, 301), second);  // the id is reused, the keys are not
  EXPECT_EQ(prekeys(kAlice, second), 0u);
  EXPECT_TRUE(take(kAlice, second).devices.empty());
}

TEST_P(RelayStoreTest, ReRegistrationClearsTheIdentityAndKeys) {
  ASSERT_TRUE(keys().store(kAlice, 1, make_upload(identity_, true, 1, 2), 100).ok());
  ASSERT_NO_FATAL_FAILURE(create_account(kAlice, "+33611111111", 101));
  EXPECT_EQ(prekeys(kAlice, 1), 0u);
  AccountBundles bundles = take(kAlice, std::nullopt);
  EXPECT_TRUE(bundles.identity_key.empty());
  EXPECT_TRUE(bundles.devices.empty());
}

TEST_P(RelayStoreTest, KeysSurviveReopen) {
  ASSERT_TRUE(keys().store(kAlice, 1, make_upload(identity_, true, 1, 2), 100).ok());
  take(kAlice, 1);
  ASSERT_NO_FATAL_FAILURE(reopen());
  EXPECT_EQ(prekeys(kAlice, 1), 1u);
  AccountBundles bundles = take(kAlice, 1);
  ASSERT_EQ(bundles.devices.size(), 1u);
  ASSERT_TRUE(bundles.devices[0].prekey.has_value());
  EXPECT_EQ(bundles.devices[0].prekey->key_id, 2u);
}

TEST_P(RelayStoreTest, DeviceZeroIsAnUnknownDevice) {
  // Ids start at 1. The SQLite store reads device id 0 as "every device" and hands out (taking prekeys) the
  // bundles of all of them; the HTTP route refuses 0 before it gets here, but the KeyStore contract does not.
  // DISABLED: fails today (kSelectSignedPreKeys in sqlite_key_store.cc uses 0 for "all").
  ASSERT_TRUE(keys().store(kAlice, 1, make_upload(identity_, true, 1, 2), 100).ok());
  EXPECT_TRUE(take(kAlice, 0).devices.empty());
  EXPECT_EQ(prekeys(kAlice, 1), 2u);
}

// ---------------------------------------------------------------------------------------------------------
// Messages

TEST_P(RelayStoreTest, InsertedEnvelopesAreFetchedInIdOrderByteForByte) {
  const std::string binary("\x00\x01\xff\x00 cipher", 10);
  Envelope first = make_envelope(kAlice, 1, 100, binary);
  first.type = 3;
  first.source_device = 7;
  first.timestamp = 111;
  first.server_timestamp = 222;
  auto stored = insert({first});
  ASSERT_TRUE(stored.ok()) << stored.error().message;
  ASSERT_EQ(stored->size(), 1u);
  EXPECT_GT((*stored)[0].id, 0);
  std::int64_t second = insert_for_alice("two");
  std::int64_t third = insert_for_alice("three");
  EXPECT_LT((*stored)[0].id, second);
  EXPECT_LT(second, third);

  auto fetched = messages().fetch(kAlice, 1, 0, 100);
  ASSERT_TRUE(fetched.ok()) << fetched.error().message;
  ASSERT_EQ(fetched->size(), 3u);
  const Envelope& e = (*fetched)[0];
  EXPECT_EQ(e.id, (*stored)[0].id);
  EXPECT_EQ(e.destination_uuid, kAlice);
  EXPECT_EQ(e.destination_device, 1u);
  EXPECT_EQ(e.source_uuid, kBob);
  EXPECT_EQ(e.source_device, 7u);
  EXPECT_EQ(e.type, 3);
  EXPECT_EQ(e.timestamp, 111);
  EXPECT_EQ(e.server_timestamp, 222);
  EXPECT_EQ(e.content, binary);
  EXPECT_EQ((*fetched)[1].content, "two");
  EXPECT_EQ((*fetched)[2].content, "three");

  EXPECT_EQ(fetch_ids(kAlice, 1, (*stored)[0].id), (std::vector<std::int64_t>{second, third}));
  EXPECT_EQ(fetch_ids(kAlice, 1, 0, 2), (std::vector<std::int64_t>{(*stored)[0].id, second}));
  EXPECT_TRUE(fetch_ids(kAlice, 1, third).empty());
  EXPECT_TRUE(fetch_ids(kBob, 1).empty());
  expect_counter_matches(kAlice, 1, 3);
}

TEST_P(RelayStoreTest, OneInsertOfSeveralDevicesStoresEachInOrder) {
  std::uint32_t second = link(kAlice, 300);
  auto stored = insert({make_envelope(kAlice, 1, 100, "to one"), make_envelope(kAlice, second, 300, "to two")});
  ASSERT_TRUE(stored.ok()) << stored.error().message;
  ASSERT_EQ(stored->size(), 2u);
  EXPECT_LT((*stored)[0].id, (*stored)[1].id);
  EXPECT_EQ((*stored)[1].content, "to two");
  EXPECT_EQ(fetch_ids(kAlice, 1), (std::vector<std::int64_t>{(*stored)[0].id}));
  EXPECT_EQ(fetch_ids(kAlice, second), (std::vector<std::int64_t>{(*stored)[1].id}));
  expect_counter_matches(kAlice, 1, 1);
  expect_counter_matches(kAlice, second, 1);
}

TEST_P(RelayStoreTest, AcknowledgingDeletesOnlyTheAcknowledgedEnvelope) {
  std::int64_t a = insert_for_alice("a");
  std::int64_t b = insert_for_alice("b");
  std::int64_t c = insert_for_alice("c");
  auto deleted = messages().acknowledge_sync(kAlice, 1, {b});
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  EXPECT_EQ(*deleted, 1);
  EXPECT_EQ(fetch_ids(kAlice, 1), (std::vector<std::int64_t>{a, c}));
  expect_counter_matches(kAlice, 1, 2);

  // Acknowledging again, or an id that never existed, deletes nothing and leaves the counter alone.
  deleted = messages().acknowledge_sync(kAlice, 1, {b, c + 1000});
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 0);
  expect_counter_matches(kAlice, 1, 2);

  deleted = messages().acknowledge_sync(kAlice, 1, {a, c});
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 2);
  EXPECT_TRUE(fetch_ids(kAlice, 1).empty());
  expect_counter_matches(kAlice, 1, 0);
}

TEST_P(RelayStoreTest, AcknowledgingAnotherDevicesEnvelopeDoesNothing) {
  std::uint32_t second = link(kAlice, 300);
  std::int64_t for_primary = insert_for_alice("for the primary");
  std::int64_t for_second = insert_for_alice("for the second", second, 300);
  auto bob = insert({make_envelope(kBob, 1, 200, "for bob")});
  ASSERT_TRUE(bob.ok());
  std::int64_t for_bob = (*bob)[0].id;

  auto deleted = messages().acknowledge_sync(kAlice, second, {for_primary, for_bob});
  ASSERT_TRUE(deleted.ok()) << deleted.error().message;
  EXPECT_EQ(*deleted, 0);
  deleted = messages().acknowledge_sync(kBob, 1, {for_primary, for_second});
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 0);
  messages().acknowledge(kAlice, 1, {for_second, for_bob});  // the non-blocking form, too
  ASSERT_TRUE(messages().acknowledge_sync(kAlice, 1, {}).ok());  // queued after it: waits for it

  EXPECT_EQ(fetch_ids(kAlice, 1), (std::vector<std::int64_t>{for_primary}));
  EXPECT_EQ(fetch_ids(kAlice, second), (std::vector<std::int64_t>{for_second}));
  EXPECT_EQ(fetch_ids(kBob, 1), (std::vector<std::int64_t>{for_bob}));
  expect_counter_matches(kAlice, 1, 1);
  expect_counter_matches(kAlice, second, 1);
  expect_counter_matches(kBob, 1, 1);
}

TEST_P(RelayStoreTest, AsynchronousAcknowledgementDeletes) {
  std::int64_t a = insert_for_alice("a");
  std::int64_t b = insert_for_alice("b");
  messages().acknowledge(kAlice, 1, {a});
  messages().acknowledge(kAlice, 1, {});  // nothing to do
  ASSERT_TRUE(messages().acknowledge_sync(kAlice, 1, {}).ok());
  EXPECT_EQ(fetch_ids(kAlice, 1), (std::vector<std::int64_t>{b}));
  expect_counter_matches(kAlice, 1, 1);
}

TEST_P(RelayStoreTest, ManyAsynchronousAcknowledgementsFromSeveralThreadsAllLand) {
  std::vector<std::int64_t> for_alice, for_bob;
  for (int i = 0; i < 40; ++i) {
    for_alice.push_back(insert_for_alice("a" + std::to_string(i)));
    auto stored = insert({make_envelope(kBob, 1, 200, "b" + std::to_string(i))});
    ASSERT_TRUE(stored.ok());
    for_bob.push_back((*stored)[0].id);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      for (int i = t; i < 40; i += 4) {
        messages().acknowledge(kAlice, 1, {for_alice[i]});
        messages().acknowledge(kBob, 1, {for_bob[i], for_alice[(i + 1) % 40]});  // Alice's id is not Bob's to ack
        if (i % 10 == 0) {
          EXPECT_TRUE(messages().settle().ok());
        }
      }
    });
  for (auto& thread : threads) thread.join();
  ASSERT_TRUE(messages().settle().ok());  // every acknowledgement submitted before it has landed
  EXPECT_TRUE(fetch_ids(kAlice, 1).empty());
  EXPECT_TRUE(fetch_ids(kBob, 1).empty());
  expect_counter_matches(kAlice, 1, 0);
  expect_counter_matches(kBob, 1, 0);
}

TEST_P(RelayStoreTest, QueueSurvivesCloseAndReopen) {
  std::int64_t a = insert_for_alice("a");
  std::int64_t b = insert_for_alice("b");
  std::int64_t c = insert_for_alice("c");
  ASSERT_TRUE(messages().acknowledge_sync(kAlice, 1, {b}).ok());
  messages().acknowledge(kAlice, 1, {c});  // close() completes it
  ASSERT_NO_FATAL_FAILURE(reopen());
  auto fetched = messages().fetch(kAlice, 1, 0, 100);
  ASSERT_TRUE(fetched.ok()) << fetched.error().message;
  ASSERT_EQ(fetched->size(), 1u);
  EXPECT_EQ((*fetched)[0].id, a);
  EXPECT_EQ((*fetched)[0].content, "a");
  expect_counter_matches(kAlice, 1, 1);  // counted again from the queue when the store opens
  // Ids are never reused, even for the highest one deleted before reopening.
  std::int64_t d = insert_for_alice("d");
  EXPECT_GT(d, c);
  expect_counter_matches(kAlice, 1, 2);
}

TEST_P(RelayStoreTest, RemovingADeviceRemovesItsQueue) {
  std::uint32_t second = link(kAlice, 300);
  std::int64_t kept = insert_for_alice("kept");
  insert_for_alice("gone 1", second, 300);
  insert_for_alice("gone 2", second, 300);
  expect_counter_matches(kAlice, second, 2);
  ASSERT_TRUE(accounts().remove_device(kAlice, second).ok());
  EXPECT_EQ(count(kAlice, second), 0u);
  EXPECT_TRUE(fetch_ids(kAlice, second).empty());
  EXPECT_EQ(queued(kAlice, second), -1);
  EXPECT_EQ(fetch_ids(kAlice, 1), (std::vector<std::int64_t>{kept}));

  // A device linked later under the same id starts with an empty queue and a full allowance.
  ASSERT_EQ(link(kAlice, 301), second);
  expect_counter_matches(kAlice, second, 0);
  auto stale = insert({make_envelope(kAlice, second, 300, "to the removed one")});
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, ErrorCode::kStaleDevices);
  auto filled = insert({make_envelope(kAlice, second, 301, "x")}, /*max_queued=*/1);
  EXPECT_TRUE(filled.ok()) << filled.error().message;
  expect_counter_matches(kAlice, second, 1);
}

TEST_P(RelayStoreTest, ReRegistrationAndDeletionRemoveTheQueue) {
  insert_for_alice("before re-registration");
  ASSERT_NO_FATAL_FAILURE(create_account(kAlice, "+33611111111", 101));
  expect_counter_matches(kAlice, 1, 0);
  insert_for_alice("after", 1, 101);
  expect_counter_matches(kAlice, 1, 1);
  ASSERT_TRUE(accounts().delete_account(kAlice).ok());
  EXPECT_EQ(count(kAlice, 1), 0u);
  EXPECT_TRUE(fetch_ids(kAlice, 1).empty());
}

TEST_P(RelayStoreTest, UnknownAndReplacedDevicesAreRefused) {
  auto unknown = insert({make_envelope(kAlice, 5, 100, "x")});
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.error().code, ErrorCode::kNotFound);
  auto nobody = insert({make_envelope("uuid-nobody", 1, 100, "x")});
  ASSERT_FALSE(nobody.ok());
  EXPECT_EQ(nobody.error().code, ErrorCode::kNotFound);
  auto stale = insert({make_envelope(kAlice, 1, 99, "x")});
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, ErrorCode::kStaleDevices);
  EXPECT_EQ(stale.error().details["staleDevices"], nlohmann::json::array({1}));
  expect_counter_matches(kAlice, 1, 0);
}

TEST_P(RelayStoreTest, AnInsertIsAllOrNothing) {
  std::uint32_t second = link(kAlice, 300);
  auto refused = insert({make_envelope(kAlice, 1, 100, "good"), make_envelope(kAlice, second, 999, "stale")});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kStaleDevices);
  EXPECT_EQ(refused.error().details["staleDevices"], nlohmann::json::array({second}));
  expect_counter_matches(kAlice, 1, 0);  // the good one's reservation was rolled back too
  expect_counter_matches(kAlice, second, 0);

  insert_for_alice("fills the second's queue", second, 300);
  refused = insert({make_envelope(kAlice, 1, 100, "good"), make_envelope(kAlice, second, 300, "full")}, 1);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kRateLimited);
  expect_counter_matches(kAlice, 1, 0);
  expect_counter_matches(kAlice, second, 1);
}

TEST_P(RelayStoreTest, QueueLimitFollowsTheCounter) {
  constexpr std::size_t kMax = 3;
  std::vector<std::int64_t> ids = fill_alice(kMax, kMax);
  ASSERT_EQ(ids.size(), kMax);
  auto full = insert({make_envelope(kAlice, 1, 100, "one too many")}, kMax);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, ErrorCode::kRateLimited);
  expect_counter_matches(kAlice, 1, kMax);

  // A foreign acknowledgement frees nothing; the device's own frees one slot.
  ASSERT_TRUE(messages().acknowledge_sync(kBob, 1, {ids[0]}).ok());
  EXPECT_FALSE(insert({make_envelope(kAlice, 1, 100, "still full")}, kMax).ok());
  ASSERT_TRUE(messages().acknowledge_sync(kAlice, 1, {ids[0]}).ok());
  expect_counter_matches(kAlice, 1, kMax - 1);
  EXPECT_TRUE(insert({make_envelope(kAlice, 1, 100, "fits again")}, kMax).ok());
  expect_counter_matches(kAlice, 1, kMax);
  EXPECT_FALSE(insert({make_envelope(kAlice, 1, 100, "full again")}, kMax).ok());
  // Other queues are not affected.
  EXPECT_TRUE(insert({make_envelope(kBob, 1, 200, "to bob")}, kMax).ok());
}

TEST_P(RelayStoreTest, QueueLimitHoldsAfterReopening) {
  constexpr std::size_t kMax = 3;
  std::vector<std::int64_t> ids = fill_alice(kMax, kMax);
  ASSERT_EQ(ids.size(), kMax);
  ASSERT_TRUE(insert({make_envelope(kBob, 1, 200, "to bob")}, kMax).ok());
  ASSERT_NO_FATAL_FAILURE(reopen());
  // The counts live in memory only: opening the store counts every device's queue again.
  expect_counter_matches(kAlice, 1, kMax);
  expect_counter_matches(kBob, 1, 1);
  auto full = insert({make_envelope(kAlice, 1, 100, "one too many")}, kMax);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, ErrorCode::kRateLimited);
  ASSERT_TRUE(messages().acknowledge_sync(kAlice, 1, {ids[0]}).ok());
  expect_counter_matches(kAlice, 1, kMax - 1);
  EXPECT_TRUE(insert({make_envelope(kAlice, 1, 100, "fits again")}, kMax).ok());
  expect_counter_matches(kAlice, 1, kMax);
  EXPECT_FALSE(insert({make_envelope(kAlice, 1, 100, "full again")}, kMax).ok());
}

TEST_P(RelayStoreTest, EnvelopesOfOneInsertToTheSameDeviceEachTakeASlot) {
  auto refused = insert({make_envelope(kAlice, 1, 100, "a"), make_envelope(kAlice, 1, 100, "b")}, 1);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().code, ErrorCode::kRateLimited);
  expect_counter_matches(kAlice, 1, 0);
  auto stored = insert({make_envelope(kAlice, 1, 100, "a"), make_envelope(kAlice, 1, 100, "b")}, 2);
  ASSERT_TRUE(stored.ok()) << stored.error().message;
  expect_counter_matches(kAlice, 1, 2);
}

TEST_P(RelayStoreTest, ConcurrentInsertsAndAcknowledgementsKeepTheCounterExact) {
  constexpr int kThreads = 4;
  constexpr int kEach = 25;
  constexpr std::size_t kMax = 60;  // 100 attempts, at most 60 queued at once
  std::atomic<int> accepted{0};
  std::atomic<int> rate_limited{0};
  std::atomic<int> other_errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto stored = insert({make_envelope(kAlice, 1, 100, std::to_string(t) + "." + std::to_string(i))}, kMax);
        if (stored.ok()) {
          ++accepted;
          // Every other thread acknowledges half of what it stored.
          if (t % 2 == 0 && i % 2 == 0) messages().acknowledge(kAlice, 1, {(*stored)[0].id});
        } else if (stored.error().code == ErrorCode::kRateLimited) {
          ++rate_limited;
        } else {
          ++other_errors;
        }
      }
    });
  for (auto& thread : threads) thread.join();
  ASSERT_TRUE(messages().acknowledge_sync(kAlice, 1, {}).ok());
  EXPECT_EQ(other_errors.load(), 0);
  EXPECT_EQ(accepted.load() + rate_limited.load(), kThreads * kEach);
  std::size_t left = count(kAlice, 1);
  EXPECT_LE(left, kMax);
  expect_counter_matches(kAlice, 1, left);
  std::vector<std::int64_t> ids = fetch_ids(kAlice, 1);
  EXPECT_EQ(ids.size(), left);
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));
}

INSTANTIATE_TEST_SUITE_P(Sqlite, RelayStoreTest,
                         ::testing::Values(RelayBackend{"sqlite", open_sqlite_in, sqlite_queued_counter}),
                         [](const ::testing::TestParamInfo<RelayBackend>& info) { return info.param.name; });

}  // namespace
}  // namespace latchkey
