// The relay's in-memory view of which devices each account has, so that a send can be checked (409/410 in the
// API) without a storage read and, on a socket, without leaving its I/O thread. Storage stays the authority:
// the envelope insert itself refuses a device that no longer exists or whose registration id changed.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/clock.h"
#include "core/config.h"

namespace latchkey {

struct DirectoryDevice {
  std::uint32_t id = 0;
  int registration_id = 0;
};
using DeviceList = std::vector<DirectoryDevice>;  // ordered by id

// Thread-safe, non-blocking (short mutex sections only).
//
// Consistency: forget() is called by whoever changes an account's devices (re-registration, link, removal,
// deletion, incident unregistration) after the change is durable. A list read from storage before such a
// change must not be cached after it: callers take a ticket() before the storage read and pass it to put(),
// which drops the list if a forget() of that account came in between. Entries also expire after
// messages.device_cache_ttl, which bounds staleness from changes made by another process.
class DeviceDirectory {
 public:
  DeviceDirectory(const MessagesConfig& config, const Clock& clock);

  // The cached devices of `uuid`, or nullptr (not cached or expired).
  std::shared_ptr<const DeviceList> find(const std::string& uuid) const;

  using Ticket = std::uint64_t;
  Ticket ticket(const std::string& uuid) const;
  // Caches `devices`, unless `uuid` was forgotten since `ticket` was taken. A full shard is emptied first
  // (the cache is bounded by messages.device_cache_entries). Answers the list, ordered, cached or not.
  std::shared_ptr<const DeviceList> put(const std::string& uuid, DeviceList devices, Ticket ticket);
  void forget(const std::string& uuid);

  std::size_t size() const;

 private:
  struct Entry {
    std::shared_ptr<const DeviceList> devices;
    EpochMillis expires_at = 0;
  };
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, Entry> entries;  // guarded by mutex
    std::uint64_t generation = 0;                    // forget() count; guarded by mutex
  };
  static constexpr std::size_t kShards = 32;

  Shard& shard_of(const std::string& uuid) const;

  const Clock& clock_;
  const EpochMillis ttl_ms_;
  const std::size_t max_per_shard_;
  mutable std::array<Shard, kShards> shards_;
};

}  // namespace latchkey
