// Which devices have a message socket open on this server, and how to reach them. The relay tells a
// connected device about each envelope stored for it, and tells it when it was unregistered or replaced.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "storage/message_store.h"

namespace latchkey {

enum class DisconnectReason {
  kUnregistered,  // the device's credentials were revoked (re-registration, removal, account deletion)
  kDisplaced,     // a newer connection for the same device replaced this one
  kShutdown,      // the server is stopping
};

// A connected device's socket, as the relay sees it. Implementations must not block: they queue work for their
// own connection and return.
class PresenceListener {
 public:
  virtual ~PresenceListener() = default;
  // An envelope was stored (durably) for this device.
  virtual void deliver(std::shared_ptr<const Envelope> envelope) = 0;
  // The connection must end for `reason`.
  virtual void disconnect(DisconnectReason reason) = 0;
};

// Thread-safe. Listeners are called outside the registry's locks, so a listener may call back into it.
class ClientPresence {
 public:
  // Makes `listener` the device's connection; a previous one is told kDisplaced.
  void connect(const std::string& uuid, std::uint32_t device_id, std::shared_ptr<PresenceListener> listener);

  // Forgets the device's connection if it is still `listener` (a displaced one must not remove its successor).
  void disconnect(const std::string& uuid, std::uint32_t device_id, const PresenceListener* listener);

  // Hands `envelope` to its destination device's connection, if there is one here. Answers whether there was.
  bool notify(const std::shared_ptr<const Envelope>& envelope);

  // Tells the connection of one device (or of every device of the account, for nullopt) that it was
  // unregistered, and forgets it.
  void unregister(const std::string& uuid, std::optional<std::uint32_t> device_id);

  // Tells every connection kShutdown (the server is stopping).
  void disconnect_all();

  std::size_t size() const;

 private:
  static constexpr std::size_t kShards = 32;
  struct Shard {
    mutable std::mutex mutex;
    // "uuid.deviceId" -> connection; guarded by mutex
    std::unordered_map<std::string, std::shared_ptr<PresenceListener>> listeners;
  };
  Shard& shard_of(const std::string& uuid);

  std::array<Shard, kShards> shards_;
};

}  // namespace latchkey
