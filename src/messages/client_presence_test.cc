#include "messages/client_presence.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

namespace latchkey {
namespace {

// Records what the registry told it. Thread-safe.
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

std::shared_ptr<const Envelope> envelope_for(const std::string& uuid, std::uint32_t device_id, std::int64_t id = 1) {
  auto e = std::make_shared<Envelope>();
  e->id = id;
  e->destination_uuid = uuid;
  e->destination_device = device_id;
  e->content = "c" + std::to_string(id);
  return e;
}

class ClientPresenceTest : public ::testing::Test {
 protected:
  std::shared_ptr<RecordingListener> connect(const std::string& uuid, std::uint32_t device_id) {
    auto listener = std::make_shared<RecordingListener>();
    presence_.connect(uuid, device_id, listener);
    return listener;
  }
  ClientPresence presence_;
};

TEST_F(ClientPresenceTest, NotifyReachesOnlyTheDestinationDevice) {
  auto alice1 = connect("alice", 1);
  auto alice2 = connect("alice", 2);
  auto bob1 = connect("bob", 1);
  EXPECT_EQ(presence_.size(), 3u);

  auto envelope = envelope_for("alice", 2, 7);
  EXPECT_TRUE(presence_.notify(envelope));
  ASSERT_EQ(alice2->delivered().size(), 1u);
  EXPECT_EQ(alice2->delivered()[0], envelope);  // the same object, not a copy
  EXPECT_TRUE(alice1->delivered().empty());
  EXPECT_TRUE(bob1->delivered().empty());

  EXPECT_FALSE(presence_.notify(envelope_for("alice", 3)));  // no connection for that device
  EXPECT_FALSE(presence_.notify(envelope_for("carol", 1)));
  EXPECT_TRUE(alice1->reasons().empty());
}

TEST_F(ClientPresenceTest, ANewConnectionDisplacesThePreviousOne) {
  auto first = connect("alice", 1);
  auto second = connect("alice", 1);
  EXPECT_EQ(presence_.size(), 1u);
  EXPECT_EQ(first->reasons(), std::vector<DisconnectReason>{DisconnectReason::kDisplaced});
  EXPECT_TRUE(second->reasons().empty());

  EXPECT_TRUE(presence_.notify(envelope_for("alice", 1)));
  EXPECT_TRUE(first->delivered().empty());
  EXPECT_EQ(second->delivered().size(), 1u);

  // The displaced connection ending must not remove its successor.
  presence_.disconnect("alice", 1, first.get());
  EXPECT_EQ(presence_.size(), 1u);
  EXPECT_TRUE(presence_.notify(envelope_for("alice", 1, 2)));
  EXPECT_EQ(second->delivered().size(), 2u);

  presence_.disconnect("alice", 1, second.get());
  EXPECT_EQ(presence_.size(), 0u);
  EXPECT_FALSE(presence_.notify(envelope_for("alice", 1, 3)));
  EXPECT_TRUE(second->reasons().empty());  // an ordinary disconnect is not announced
}

TEST_F(ClientPresenceTest, DisconnectOfUnknownDeviceOrListenerIsHarmless) {
  auto alice = connect("alice", 1);
  RecordingListener stranger;
  presence_.disconnect("alice", 1, &stranger);
  presence_.disconnect("alice", 2, alice.get());
  presence_.disconnect("nobody", 1, alice.get());
  EXPECT_EQ(presence_.size(), 1u);
  EXPECT_TRUE(presence_.notify(envelope_for("alice", 1)));
}

TEST_F(ClientPresenceTest, UnregisterOneDeviceTellsItAndForgetsIt) {
  auto alice1 = connect("alice", 1);
  auto alice2 = connect("alice", 2);
  presence_.unregister("alice", 2);
  EXPECT_EQ(alice2->reasons(), std::vector<DisconnectReason>{DisconnectReason::kUnregistered});
  EXPECT_TRUE(alice1->reasons().empty());
  EXPECT_EQ(presence_.size(), 1u);
  EXPECT_FALSE(presence_.notify(envelope_for("alice", 2)));
  EXPECT_TRUE(presence_.notify(envelope_for("alice", 1)));
  presence_.unregister("alice", 2);  // again: nothing left to tell
  EXPECT_EQ(alice2->reasons().size(), 1u);
}

TEST_F(ClientPresenceTest, UnregisterAnAccountTellsEveryDeviceOfItOnly) {
  auto alice1 = connect("alice", 1);
  auto alice2 = connect("alice", 2);
  auto alice12 = connect("alice", 12);
  auto other = connect("alice2", 1);  // a uuid that starts like the other one
  auto bob = connect("bob", 1);
  presence_.unregister("alice", std::nullopt);
  for (const auto& listener : {alice1, alice2, alice12})
    EXPECT_EQ(listener->reasons(), std::vector<DisconnectReason>{DisconnectReason::kUnregistered});
  EXPECT_TRUE(other->reasons().empty());
  EXPECT_TRUE(bob->reasons().empty());
  EXPECT_EQ(presence_.size(), 2u);
  EXPECT_TRUE(presence_.notify(envelope_for("alice2", 1)));
  EXPECT_FALSE(presence_.notify(envelope_for("alice", 12)));
}

TEST_F(ClientPresenceTest, DisconnectAllTellsEveryoneShutdown) {
  std::vector<std::shared_ptr<RecordingListener>> listeners;
  for (int i = 0; i < 50; ++i) listeners.push_back(connect("account-" + std::to_string(i), 1 + i % 3));
  presence_.disconnect_all();
  EXPECT_EQ(presence_.size(), 0u);
  for (const auto& listener : listeners)
    EXPECT_EQ(listener->reasons(), std::vector<DisconnectReason>{DisconnectReason::kShutdown});
}

// A listener that calls back into the registry from its callbacks, as a session does when it closes.
class ReentrantListener final : public PresenceListener {
 public:
  ReentrantListener(ClientPresence& presence, std::string uuid, std::uint32_t device_id)
      : presence_(presence), uuid_(std::move(uuid)), device_id_(device_id) {}
  void deliver(std::shared_ptr<const Envelope>) override {
    ++delivered;
    seen_size = presence_.size();  // takes every shard's lock
  }
  void disconnect(DisconnectReason) override {
    ++disconnected;
    presence_.disconnect(uuid_, device_id_, this);
    seen_size = presence_.size();
  }
  std::atomic<int> delivered{0};
  std::atomic<int> disconnected{0};
  std::atomic<std::size_t> seen_size{0};

 private:
  ClientPresence& presence_;
  std::string uuid_;
  std::uint32_t device_id_;
};

TEST_F(ClientPresenceTest, ListenersMayCallBackIntoTheRegistry) {
  auto first = std::make_shared<ReentrantListener>(presence_, "alice", 1);
  presence_.connect("alice", 1, first);
  EXPECT_TRUE(presence_.notify(envelope_for("alice", 1)));
  EXPECT_EQ(first->delivered.load(), 1);
  EXPECT_EQ(first->seen_size.load(), 1u);

  auto second = std::make_shared<ReentrantListener>(presence_, "alice", 1);
  presence_.connect("alice", 1, second);  // `first` is displaced and calls disconnect: must not remove `second`
  EXPECT_EQ(first->disconnected.load(), 1);
  EXPECT_EQ(presence_.size(), 1u);

  auto third = std::make_shared<ReentrantListener>(presence_, "alice", 2);
  presence_.connect("alice", 2, third);
  presence_.unregister("alice", std::nullopt);
  EXPECT_EQ(second->disconnected.load(), 1);
  EXPECT_EQ(third->disconnected.load(), 1);
  EXPECT_EQ(presence_.size(), 0u);
}

TEST_F(ClientPresenceTest, ConcurrentConnectsAndNotificationsKeepOneConnectionPerDevice) {
  constexpr int kThreads = 4;
  constexpr int kRounds = 500;
  std::vector<std::thread> threads;
  std::atomic<int> delivered{0};
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kRounds; ++i) {
        std::string uuid = "account-" + std::to_string(i % 16);
        auto listener = std::make_shared<RecordingListener>();
        presence_.connect(uuid, 1 + t % 2, listener);
        if (presence_.notify(envelope_for(uuid, 1 + (t + 1) % 2))) ++delivered;
        if (i % 3 == 0) presence_.disconnect(uuid, 1 + t % 2, listener.get());
        if (i % 50 == 0) presence_.unregister(uuid, std::nullopt);
      }
    });
  for (auto& thread : threads) thread.join();
  EXPECT_LE(presence_.size(), 32u);  // 16 accounts, 2 devices each
  presence_.disconnect_all();
  EXPECT_EQ(presence_.size(), 0u);
  EXPECT_GT(delivered.load(), 0);
}

}  // namespace
}  // namespace latchkey
