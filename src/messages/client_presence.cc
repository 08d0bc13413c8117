#include "messages/client_presence.h"

#include <functional>
#include <vector>

namespace latchkey {
namespace {

std::string key_of(const std::string& uuid, std::uint32_t device_id) {
  std::string key;
  key.reserve(uuid.size() + 4);
  key.append(uuid).push_back('.');
  key.append(std::to_string(device_id));
  return key;
}

}  // namespace

// Every device of an account lives in the same shard, so unregistering a whole account takes one lock.
ClientPresence::Shard& ClientPresence::shard_of(const std::string& uuid) {
  return shards_[std::hash<std::string>{}(uuid) % kShards];
}

void ClientPresence::connect(const std::string& uuid, std::uint32_t device_id,
                             std::shared_ptr<PresenceListener> listener) {
  std::shared_ptr<PresenceListener> previous;
  {
    Shard& shard = shard_of(uuid);
    std::lock_guard lock(shard.mutex);
    auto& slot = shard.listeners[key_of(uuid, device_id)];
    previous = std::move(slot);
    slot = std::move(listener);
  }
  if (previous) previous->disconnect(DisconnectReason::kDisplaced);
}

void ClientPresence::disconnect(const std::string& uuid, std::uint32_t device_id, const PresenceListener* listener) {
  std::shared_ptr<PresenceListener> removed;  // released outside the lock
  Shard& shard = shard_of(uuid);
  std::lock_guard lock(shard.mutex);
  auto it = shard.listeners.find(key_of(uuid, device_id));
  if (it != shard.listeners.end() && it->second.get() == listener) {
    removed = std::move(it->second);
    shard.listeners.erase(it);
  }
}

bool ClientPresence::notify(const std::shared_ptr<const Envelope>& envelope) {
  std::shared_ptr<PresenceListener> listener;
  {
    Shard& shard = shard_of(envelope->destination_uuid);
    std::lock_guard lock(shard.mutex);
    auto it = shard.listeners.find(key_of(envelope->destination_uuid, envelope->destination_device));
    if (it == shard.listeners.end()) return false;
    listener = it->second;
  }
  listener->deliver(envelope);
  return true;
}

void ClientPresence::unregister(const std::string& uuid, std::optional<std::uint32_t> device_id) {
  std::vector<std::shared_ptr<PresenceListener>> removed;
  {
    Shard& shard = shard_of(uuid);
    std::lock_guard lock(shard.mutex);
    if (device_id) {
      auto it = shard.listeners.find(key_of(uuid, *device_id));
      if (it != shard.listeners.end()) {
        removed.push_back(std::move(it->second));
        shard.listeners.erase(it);
      }
    } else {
      std::string prefix = uuid + ".";
      for (auto it = shard.listeners.begin(); it != shard.listeners.end();) {
        if (it->first.compare(0, prefix.size(), prefix) == 0) {
          removed.push_back(std::move(it->second));
          it = shard.listeners.erase(it);
        } else {
          ++it;
        }
      }
    }
  }
  for (auto& listener : removed) listener->disconnect(DisconnectReason::kUnregistered);
}

void ClientPresence::disconnect_all() {
  std::vector<std::shared_ptr<PresenceListener>> all;
  for (Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    for (auto& [key, listener] : shard.listeners) all.push_back(std::move(listener));
    shard.listeners.clear();
  }
  for (auto& listener : all) listener->disconnect(DisconnectReason::kShutdown);
}

std::size_t ClientPresence::size() const {
  std::size_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    n += shard.listeners.size();
  }
  return n;
}

}  // namespace latchkey
