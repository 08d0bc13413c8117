#include "messages/message_service.h"

#include <chrono>
#include <filesystem>
#include <future>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "crypto/random.h"
#include "storage/storage.h"
#include "storage/test_storage.h"

namespace latchkey {
namespace {

using namespace std::chrono_literals;

// A connected device's socket as the relay sees it: records deliveries. Thread-safe (called on the storage
// thread).
class RecordingListener final : public PresenceListener {
 public:
  void deliver(std::shared_ptr<const Envelope> envelope) override {
    std::lock_guard lock(mutex_);
    delivered_.push_back(std::move(envelope));
  }
  void disconnect(DisconnectReason reason) override {
    std::lock_guard lock(mutex_);
    reasons_.push_back(reason);
  }
  std::vector<std::shared_ptr<const Envelope>> delivered() const {
    std::lock_guard lock(mutex_);
    return delivered_;
  }
  std::vector<DisconnectReason> reasons() const {
    std::lock_guard lock(mutex_);
    return reasons_;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<std::shared_ptr<const Envelope>> delivered_;
  std::vector<DisconnectReason> reasons_;
};

OutgoingEnvelope outgoing(std::uint32_t device_id, int registration_id, std::string content = "ciphertext",
                          int type = 1) {
  OutgoingEnvelope m;
  m.type = type;
  m.destination_device = device_id;
  m.destination_registration_id = registration_id;
  m.content = std::move(content);
  return m;
}

std::vector<std::uint32_t> ids_in(const nlohmann::json& array) {
  std::vector<std::uint32_t> ids;
  for (const auto& id : array) ids.push_back(id.get<std::uint32_t>());
  return ids;
}

class MessageServiceTest : public ::testing::Test {
 protected:
  // Alice has devices 1 (registration id 11) and 2 (22); Bob has device 1 (33).
  void SetUp() override {
    ASSERT_TRUE(initialize_crypto());
    dir_ = fresh_test_dir("msg");
    storage_ = open_test_storage(dir_);
    ASSERT_TRUE(storage_);
    config_.max_content_bytes = 64;
    config_.max_queued_per_device = 5;
    config_.fetch_batch = 3;
    limits_ = std::make_unique<Limits>(limits_config_, metrics_);
    service_ = std::make_unique<MessageService>(config_, kMaxLinked, *storage_, presence_, *limits_, clock_, metrics_);

    alice_ = create("+33611111111", 11);
    bob_ = create("+33622222222", 33);
    ASSERT_TRUE(storage_->accounts().put_link_code(alice_, "code", clock_.now_ms() + 60'000).ok());
    Device linked;
    linked.password_hash = "h";
    linked.registration_id = 22;
    auto second = storage_->accounts().link_device("code", linked, kMaxLinked, clock_.now_ms());
    ASSERT_TRUE(second.ok()) << second.error().message;
    ASSERT_EQ(second->device_id, 2u);
  }
  void TearDown() override {
    storage_->close();
    std::filesystem::remove_all(dir_);
  }

  std::string create(const std::string& number, int registration_id) {
    Device primary;
    primary.password_hash = "h";
    primary.registration_id = registration_id;
    auto record = storage_->accounts().create_or_replace(number, new_uuid(random_), primary, clock_.now_ms());
    EXPECT_TRUE(record.ok()) << record.error().message;
    return record.ok() ? record->account.uuid : "";
  }

  // The authenticated sender, as the handlers build it.
  AuthenticatedDevice sender(const std::string& uuid, std::uint32_t device_id) {
    auto account = storage_->accounts().find_by_uuid(uuid);
    EXPECT_TRUE(account.ok() && account->has_value());
    AuthenticatedDevice caller;
    caller.uuid = uuid;
    caller.number = (*account)->number;
    for (const Device& d : (*account)->devices) {
      caller.account_device_ids.push_back(d.id);
      if (d.id == device_id) caller.device = d;
    }
    return caller;
  }

  // send(), waiting for `done` (which must be called exactly once).
  Result<MessageSendResult> send(const AuthenticatedDevice& from, const std::string& to,
                                 std::vector<OutgoingEnvelope> messages, EpochMillis timestamp = 1'234) {
    auto calls = std::make_shared<std::atomic<int>>(0);
    auto answered = std::make_shared<std::promise<Result<MessageSendResult>>>();
    auto future = answered->get_future();
    service_->send(from, MessageSendRequest{to, timestamp, std::move(messages)},
                   [calls, answered](Result<MessageSendResult> result) {
                     if (calls->fetch_add(1) == 0) answered->set_value(std::move(result));
                   });
    EXPECT_EQ(future.wait_for(10s), std::future_status::ready);
    Result<MessageSendResult> result = future.get();
    // A second call would have been made by now for a storage answer delivered twice; flush the writer first.
    EXPECT_TRUE(storage_->messages().acknowledge_sync(to, 1, {}).ok());
    EXPECT_EQ(calls->load(), 1);
    return result;
  }

  // Expects a refusal with `code`; answers its details.
  nlohmann::json expect_refused(Result<MessageSendResult> result, ErrorCode code) {
    EXPECT_FALSE(result.ok());
    if (result.ok()) return nullptr;
    EXPECT_EQ(result.error().code, code) << result.error().message;
    return result.error().details;
  }

  std::size_t queued(const std::string& uuid, std::uint32_t device_id) {
    auto n = storage_->messages().count(uuid, device_id);
    EXPECT_TRUE(n.ok());
    return n.ok() ? *n : 9999;
  }

  std::size_t queued_for_alice() { return queued(alice_, 1) + queued(alice_, 2); }

  static constexpr int kMaxLinked = 3;
  std::filesystem::path dir_;
  ManualClock clock_;
  SodiumRandom random_;
  MetricsRegistry metrics_;
  MessagesConfig config_;
  LimitsConfig limits_config_;
  std::unique_ptr<Storage> storage_;
  ClientPresence presence_;
  std::unique_ptr<Limits> limits_;
  std::unique_ptr<MessageService> service_;
  std::string alice_;
  std::string bob_;
};

TEST_F(MessageServiceTest, DeliversToAConnectedDeviceAndQueuesForEveryDevice) {
  auto online = std::make_shared<RecordingListener>();
  presence_.connect(alice_, 1, online);
  auto sent = send(sender(bob_, 1), alice_, {outgoing(1, 11, "for one", 3), outgoing(2, 22, "for two")}, 777);
  ASSERT_TRUE(sent.ok()) << sent.error().message;
  EXPECT_FALSE(sent->needs_sync);  // Bob has no other device

  auto delivered = online->delivered();
  ASSERT_EQ(delivered.size(), 1u);
  const Envelope& e = *delivered[0];
  EXPECT_GT(e.id, 0);
  EXPECT_EQ(e.destination_uuid, alice_);
  EXPECT_EQ(e.destination_device, 1u);
  EXPECT_EQ(e.source_uuid, bob_);
  EXPECT_EQ(e.source_device, 1u);
  EXPECT_EQ(e.type, 3);
  EXPECT_EQ(e.timestamp, 777);
  EXPECT_EQ(e.server_timestamp, clock_.now_ms());
  EXPECT_EQ(e.content, "for one");
  EXPECT_EQ(metrics_.counter("latchkey_messages_pushed_total", "").value(), 1u);
  EXPECT_EQ(metrics_.counter("latchkey_messages_stored_total", "").value(), 2u);

  // Both are queued until acknowledged; the absent device finds its envelope when it drains.
  auto first = service_->fetch(alice_, 1, 0);
  ASSERT_TRUE(first.ok()) << first.error().message;
  ASSERT_EQ(first->size(), 1u);
  EXPECT_EQ((*first)[0].id, e.id);
  auto second = service_->fetch(alice_, 2, 0);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->size(), 1u);
  EXPECT_EQ((*second)[0].content, "for two");
  EXPECT_EQ((*second)[0].source_uuid, bob_);
  EXPECT_GT((*second)[0].id, e.id);
}

TEST_F(MessageServiceTest, AbsentDevicesOnlyGetTheQueue) {
  auto someone_else = std::make_shared<RecordingListener>();
  presence_.connect(bob_, 1, someone_else);
  ASSERT_TRUE(send(sender(bob_, 1), alice_, {outgoing(1, 11), outgoing(2, 22)}).ok());
  EXPECT_TRUE(someone_else->delivered().empty());
  EXPECT_EQ(queued(alice_, 1), 1u);
  EXPECT_EQ(queued(alice_, 2), 1u);
  EXPECT_EQ(metrics_.counter("latchkey_messages_pushed_total", "").value(), 0u);
}

TEST_F(MessageServiceTest, AReplacedSocketGetsNothingMore) {
  auto old_socket = std::make_shared<RecordingListener>();
  auto new_socket = std::make_shared<RecordingListener>();
  presence_.connect(alice_, 2, old_socket);
  presence_.connect(alice_, 2, new_socket);
  ASSERT_TRUE(send(sender(bob_, 1), alice_, {outgoing(1, 11), outgoing(2, 22)}).ok());
  EXPECT_EQ(old_socket->reasons(), std::vector<DisconnectReason>{DisconnectReason::kDisplaced});
  EXPECT_TRUE(old_socket->delivered().empty());
  ASSERT_EQ(new_socket->delivered().size(), 1u);
  EXPECT_EQ(new_socket->delivered()[0]->destination_device, 2u);
}

TEST_F(MessageServiceTest, MissingDevicesAreMismatched) {
  auto details = expect_refused(send(sender(bob_, 1), alice_, {outgoing(1, 11)}), ErrorCode::kMismatchedDevices);
  EXPECT_EQ(ids_in(details["missingDevices"]), std::vector<std::uint32_t>{2});
  EXPECT_TRUE(ids_in(details["extraDevices"]).empty());
  EXPECT_EQ(queued_for_alice(), 0u);  // nothing stored, not even for the named device
}

TEST_F(MessageServiceTest, ExtraDevicesAreMismatched) {
  auto details = expect_refused(send(sender(bob_, 1), alice_, {outgoing(1, 11), outgoing(2, 22), outgoing(5, 55)}),
                                ErrorCode::kMismatchedDevices);
  EXPECT_TRUE(ids_in(details["missingDevices"]).empty());
  EXPECT_EQ(ids_in(details["extraDevices"]), std::vector<std::uint32_t>{5});
  EXPECT_EQ(queued_for_alice(), 0u);

  details = expect_refused(send(sender(bob_, 1), alice_, {outgoing(2, 22), outgoing(4, 44)}),
                           ErrorCode::kMismatchedDevices);
  EXPECT_EQ(ids_in(details["missingDevices"]), std::vector<std::uint32_t>{1});
  EXPECT_EQ(ids_in(details["extraDevices"]), std::vector<std::uint32_t>{4});
}

TEST_F(MessageServiceTest, StaleRegistrationIdsAreReported) {
  auto details = expect_refused(send(sender(bob_, 1), alice_, {outgoing(1, 11), outgoing(2, 23)}),
                                ErrorCode::kStaleDevices);
  EXPECT_EQ(ids_in(details["staleDevices"]), std::vector<std::uint32_t>{2});
  details = expect_refused(send(sender(bob_, 1), alice_, {outgoing(1, 10), outgoing(2, 23)}), ErrorCode::kStaleDevices);
  EXPECT_EQ(ids_in(details["staleDevices"]), (std::vector<std::uint32_t>{1, 2}));
  EXPECT_EQ(queued_for_alice(), 0u);
  // A mismatch is reported first: the sender must fix its device list before its sessions.
  expect_refused(send(sender(bob_, 1), alice_, {outgoing(1, 10)}), ErrorCode::kMismatchedDevices);
}

TEST_F(MessageServiceTest, ADeviceReplacedAfterTheCheckIsStaleInStorage) {
  // Re-linking device 2 under a new registration id: the sender still uses the old one.
  ASSERT_TRUE(storage_->accounts().remove_device(alice_, 2).ok());
  ASSERT_TRUE(storage_->accounts().put_link_code(alice_, "again", clock_.now_ms() + 60'000).ok());
  Device relinked;
  relinked.password_hash = "h";
  relinked.registration_id = 99;
  ASSERT_TRUE(storage_->accounts().link_device("again", relinked, kMaxLinked, clock_.now_ms()).ok());
  auto details = expect_refused(send(sender(bob_, 1), alice_, {outgoing(1, 11), outgoing(2, 22)}),
                                ErrorCode::kStaleDevices);
  EXPECT_EQ(ids_in(details["staleDevices"]), std::vector<std::uint32_t>{2});
  EXPECT_TRUE(send(sender(bob_, 1), alice_, {outgoing(1, 11), outgoing(2, 99)}).ok());
}

TEST_F(MessageServiceTest, DeviceListsAreCachedUntilForgottenOrExpired) {
  AuthenticatedDevice from = sender(bob_, 1);
  MessageSendRequest request{alice_, 1, {outgoing(1, 11), outgoing(2, 22)}};
  MessageService::SendDone done = [](Result<MessageSendResult>) { ADD_FAILURE() << "must not be called"; };
  EXPECT_FALSE(service_->send_if_cached(from, request, done));  // nothing cached yet: the caller must use send()
  EXPECT_EQ(request.messages.size(), 2u);                       // and the request is left as it was
  ASSERT_TRUE(send(from, alice_, {outgoing(1, 11), outgoing(2, 22)}).ok());

  // A device added behind the service's back is not seen while the list is cached...
  ASSERT_TRUE(storage_->accounts().put_link_code(alice_, "third", clock_.now_ms() + 60'000).ok());
  Device third;
  third.password_hash = "h";
  third.registration_id = 44;
  ASSERT_TRUE(storage_->accounts().link_device("third", third, kMaxLinked, clock_.now_ms()).ok());
  auto answered = std::make_shared<std::promise<Result<MessageSendResult>>>();
  done = [answered](Result<MessageSendResult> result) { answered->set_value(std::move(result)); };
  ASSERT_TRUE(service_->send_if_cached(from, request, done));
  auto future = answered->get_future();
  ASSERT_EQ(future.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(future.get().ok());
  // ...until the change is reported (DeviceService and AccountService do it through the application's wiring).
  service_->forget_devices(alice_);
  auto details = expect_refused(send(from, alice_, {outgoing(1, 11), outgoing(2, 22)}), ErrorCode::kMismatchedDevices);
  EXPECT_EQ(ids_in(details["missingDevices"]), std::vector<std::uint32_t>{3});

  // An unreported removal: storage refuses the envelope and the stale list is dropped, so the retry is precise.
  ASSERT_TRUE(storage_->accounts().remove_device(alice_, 3).ok());
  expect_refused(send(from, alice_, {outgoing(1, 11), outgoing(2, 22), outgoing(3, 44)}), ErrorCode::kNotFound);
  details = expect_refused(send(from, alice_, {outgoing(1, 11), outgoing(2, 22), outgoing(3, 44)}),
                           ErrorCode::kMismatchedDevices);
  EXPECT_EQ(ids_in(details["extraDevices"]), std::vector<std::uint32_t>{3});

  // Entries expire: a change made elsewhere is seen after messages.device_cache_ttl at the latest.
  ASSERT_TRUE(send(from, alice_, {outgoing(1, 11), outgoing(2, 22)}).ok());
  ASSERT_TRUE(storage_->accounts().remove_device(alice_, 2).ok());
  clock_.advance(config_.device_cache_ttl + 1ms);
  details = expect_refused(send(from, alice_, {outgoing(1, 11), outgoing(2, 22)}), ErrorCode::kMismatchedDevices);
  EXPECT_EQ(ids_in(details["extraDevices"]), std::vector<std::uint32_t>{2});
}

TEST(DeviceDirectoryTest, AListReadBeforeAForgetIsNotCached) {
  ManualClock clock;
  MessagesConfig config;
  DeviceDirectory directory(config, clock);
  const DeviceDirectory::Ticket before = directory.ticket("a");
  directory.forget("a");  // a change committed while the caller was reading
  directory.put("a", {{1, 11}}, before);
  EXPECT_EQ(directory.find("a"), nullptr);
  directory.put("a", {{2, 22}, {1, 11}}, directory.ticket("a"));
  auto list = directory.find("a");
  ASSERT_NE(list, nullptr);
  ASSERT_EQ(list->size(), 2u);
  EXPECT_EQ((*list)[0].id, 1u);  // ordered by id
  clock.advance(config.device_cache_ttl);
  EXPECT_EQ(directory.find("a"), nullptr);

  config.device_cache_ttl = Duration(0);  // off
  DeviceDirectory off(config, clock);
  off.put("a", {{1, 11}}, off.ticket("a"));
  EXPECT_EQ(off.find("a"), nullptr);

  config.device_cache_ttl = std::chrono::seconds(10);
  config.device_cache_entries = 64;  // two per shard
  DeviceDirectory small(config, clock);
  for (int i = 0; i < 1000; ++i) small.put(std::to_string(i), {{1, 1}}, small.ticket(std::to_string(i)));
  EXPECT_LE(small.size(), 64u);
}

TEST_F(MessageServiceTest, UnknownAccountIsNotFound) {
  expect_refused(send(sender(bob_, 1), "00000000-0000-4000-8000-000000000000", {outgoing(1, 11)}),
                 ErrorCode::kNotFound);
}

TEST_F(MessageServiceTest, SendingToOwnAccountNamesTheOtherDevicesOnly) {
  AuthenticatedDevice primary = sender(alice_, 1);
  auto sent = send(primary, alice_, {outgoing(2, 22, "sync")});
  ASSERT_TRUE(sent.ok()) << sent.error().message;
  EXPECT_FALSE(sent->needs_sync);  // this is the sync copy
  EXPECT_EQ(queued(alice_, 2), 1u);
  EXPECT_EQ(queued(alice_, 1), 0u);

  auto details = expect_refused(send(primary, alice_, {outgoing(1, 11), outgoing(2, 22)}),
                                ErrorCode::kMismatchedDevices);
  EXPECT_EQ(ids_in(details["extraDevices"]), std::vector<std::uint32_t>{1});
  details = expect_refused(send(sender(alice_, 2), alice_, {outgoing(2, 22)}), ErrorCode::kMismatchedDevices);
  EXPECT_EQ(ids_in(details["missingDevices"]), std::vector<std::uint32_t>{1});
  EXPECT_EQ(ids_in(details["extraDevices"]), std::vector<std::uint32_t>{2});

  // To someone else, a sender with other devices is told to sync them.
  sent = send(primary, bob_, {outgoing(1, 33)});
  ASSERT_TRUE(sent.ok());
  EXPECT_TRUE(sent->needs_sync);
}

TEST_F(MessageServiceTest, ContentSizeIsLimited) {
  AuthenticatedDevice from = sender(bob_, 1);
  EXPECT_TRUE(send(from, alice_, {outgoing(1, 11, std::string(64, 'x')), outgoing(2, 22, "y")}).ok());
  expect_refused(send(from, alice_, {outgoing(1, 11, std::string(65, 'x')), outgoing(2, 22, "y")}),
                 ErrorCode::kMalformedRequest);
  expect_refused(send(from, alice_, {outgoing(1, 11, ""), outgoing(2, 22, "y")}), ErrorCode::kMalformedRequest);
  EXPECT_EQ(queued(alice_, 1), 1u);
  EXPECT_EQ(queued(alice_, 2), 1u);
}

TEST_F(MessageServiceTest, MalformedRequestsAreRefusedBeforeStorage) {
  AuthenticatedDevice from = sender(bob_, 1);
  expect_refused(send(from, alice_, {}), ErrorCode::kMalformedRequest);
  expect_refused(send(from, alice_, {outgoing(1, 11, "x", 2), outgoing(2, 22)}), ErrorCode::kMalformedRequest);
  expect_refused(send(from, alice_, {outgoing(1, 11), outgoing(1, 11)}), ErrorCode::kMalformedRequest);
  expect_refused(send(from, alice_, {outgoing(1, 11), outgoing(2, 22)}, -1), ErrorCode::kMalformedRequest);
  std::vector<OutgoingEnvelope> too_many;
  for (std::uint32_t id = 1; id <= kMaxLinked + 2; ++id) too_many.push_back(outgoing(id, 11));
  expect_refused(send(from, alice_, too_many), ErrorCode::kMalformedRequest);
  // Even to an unknown account: the shape is checked first.
  expect_refused(send(from, "nobody", {outgoing(1, 11, "")}), ErrorCode::kMalformedRequest);
  EXPECT_EQ(queued_for_alice(), 0u);
}

TEST_F(MessageServiceTest, RefusalsAnswerBeforeSendReturns) {
  bool answered = false;
  service_->send(sender(bob_, 1), MessageSendRequest{alice_, 1, {outgoing(1, 11)}},
                 [&answered](Result<MessageSendResult> result) {
                   EXPECT_FALSE(result.ok());
                   answered = true;
                 });
  EXPECT_TRUE(answered);
}

TEST_F(MessageServiceTest, AFullQueueIsRateLimited) {
  AuthenticatedDevice from = sender(bob_, 1);
  for (std::size_t i = 0; i < config_.max_queued_per_device; ++i)
    ASSERT_TRUE(send(from, alice_, {outgoing(1, 11), outgoing(2, 22)}).ok()) << i;
  expect_refused(send(from, alice_, {outgoing(1, 11), outgoing(2, 22)}), ErrorCode::kRateLimited);
  EXPECT_EQ(queued(alice_, 1), config_.max_queued_per_device);

  // Device 1 drains and acknowledges one page; device 2 still has a full queue, so sends stay refused.
  auto page = service_->fetch(alice_, 1, 0);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), static_cast<std::size_t>(config_.fetch_batch));
  std::vector<std::int64_t> ids;
  for (const Envelope& e : *page) ids.push_back(e.id);
  service_->acknowledge(alice_, 1, ids);
  ASSERT_TRUE(storage_->messages().acknowledge_sync(alice_, 1, {}).ok());
  EXPECT_EQ(queued(alice_, 1), config_.max_queued_per_device - ids.size());
  expect_refused(send(from, alice_, {outgoing(1, 11), outgoing(2, 22)}), ErrorCode::kRateLimited);
  EXPECT_EQ(queued(alice_, 1), config_.max_queued_per_device - ids.size());  // all or nothing

  auto rest = service_->fetch(alice_, 1, ids.back());
  ASSERT_TRUE(rest.ok());
  EXPECT_EQ(rest->size(), config_.max_queued_per_device - ids.size());
  EXPECT_GT(rest->front().id, ids.back());
}

TEST_F(MessageServiceTest, SendsPerDeviceAreRateLimited) {
  limits_config_.messages_per_sender = {2, std::chrono::hours(1)};
  limits_ = std::make_unique<Limits>(limits_config_, metrics_);
  service_ = std::make_unique<MessageService>(config_, kMaxLinked, *storage_, presence_, *limits_, clock_, metrics_);
  AuthenticatedDevice from = sender(bob_, 1);
  EXPECT_TRUE(send(from, alice_, {outgoing(1, 11), outgoing(2, 22)}).ok());
  EXPECT_TRUE(send(from, alice_, {outgoing(1, 11), outgoing(2, 22)}).ok());
  auto refused = send(from, alice_, {outgoing(1, 11), outgoing(2, 22)});
  expect_refused(refused, ErrorCode::kRateLimited);
  // Another sending device has its own allowance.
  EXPECT_TRUE(send(sender(alice_, 2), bob_, {outgoing(1, 33)}).ok());
  clock_.advance(std::chrono::hours(1));
  EXPECT_TRUE(send(from, alice_, {outgoing(1, 11), outgoing(2, 22)}).ok());
}

}  // namespace
}  // namespace latchkey
