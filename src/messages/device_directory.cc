#include "messages/device_directory.h"

#include <algorithm>
#include <chrono>
#include <functional>

namespace latchkey {

DeviceDirectory::DeviceDirectory(const MessagesConfig& config, const Clock& clock)
    : clock_(clock),
      ttl_ms_(std::chrono::duration_cast<std::chrono::milliseconds>(config.device_cache_ttl).count()),
      max_per_shard_(std::max<std::size_t>(1, config.device_cache_entries / kShards)) {}

DeviceDirectory::Shard& DeviceDirectory::shard_of(const std::string& uuid) const {
  return shards_[std::hash<std::string>{}(uuid) % kShards];
}

std::shared_ptr<const DeviceList> DeviceDirectory::find(const std::string& uuid) const {
  if (ttl_ms_ <= 0) return nullptr;
  const EpochMillis now = clock_.now_ms();
  Shard& shard = shard_of(uuid);
  std::lock_guard lock(shard.mutex);
  auto it = shard.entries.find(uuid);
  if (it == shard.entries.end() || it->second.expires_at <= now) return nullptr;
  return it->second.devices;
}

DeviceDirectory::Ticket DeviceDirectory::ticket(const std::string& uuid) const {
  Shard& shard = shard_of(uuid);
  std::lock_guard lock(shard.mutex);
  return shard.generation;
}

std::shared_ptr<const DeviceList> DeviceDirectory::put(const std::string& uuid, DeviceList devices, Ticket ticket) {
  std::sort(devices.begin(), devices.end(), [](const DirectoryDevice& a, const DirectoryDevice& b) { return a.id < b.id; });
  auto list = std::make_shared<const DeviceList>(std::move(devices));
  if (ttl_ms_ <= 0) return list;
  const EpochMillis expires_at = clock_.now_ms() + ttl_ms_;
  Shard& shard = shard_of(uuid);
  std::lock_guard lock(shard.mutex);
  if (shard.generation != ticket) return list;  // forgotten since the caller's read: its list may be stale
  if (shard.entries.size() >= max_per_shard_ && !shard.entries.count(uuid)) shard.entries.clear();
  shard.entries[uuid] = Entry{list, expires_at};
  return list;
}

void DeviceDirectory::forget(const std::string& uuid) {
  Shard& shard = shard_of(uuid);
  std::lock_guard lock(shard.mutex);
  ++shard.generation;
  shard.entries.erase(uuid);
}

std::size_t DeviceDirectory::size() const {
  std::size_t n = 0;
  for (const Shard& shard : shards_) {
    std::lock_guard lock(shard.mutex);
    n += shard.entries.size();
  }
  return n;
}

}  // namespace latchkey
