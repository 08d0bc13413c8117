// A bounded in-memory cache of values read from storage, kept consistent with the changes made through this
// process, for reads too frequent to go to storage each time (a device list checked on every send, the
// credentials checked on every request).
//
// Consistency: forget(key) is called by whoever changes the stored value, after the change is durable. A
// value read from storage before such a change must not be cached after it: callers take a ticket(key) before
// the storage read and pass it to put(), which drops the value if a forget() of that key came in between.
// Entries also expire after `ttl`, which bounds staleness from changes made by another process sharing the
// storage. A ttl of zero turns the cache off (find() always misses, put() keeps nothing).
//
// Thread-safe, non-blocking (short mutex sections on one of 32 shards).
#pragma once

#include <algorithm>
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/clock.h"

namespace latchkey {

template <class Value>
class TicketedCache {
 public:
  using Ticket = std::uint64_t;

  // At most `max_entries` entries (a full shard is emptied before it takes a new key).
  TicketedCache(std::chrono::milliseconds ttl, std::size_t max_entries, const Clock& clock)
      : clock_(clock),
        ttl_ms_(ttl.count()),
        max_per_shard_(std::max<std::size_t>(1, max_entries / kShards)) {}

  // The cached value of `key`, or nullptr (not cached or expired).
  std::shared_ptr<const Value> find(const std::string& key) const {
    if (ttl_ms_ <= 0) return nullptr;
    const EpochMillis now = clock_.now_ms();
    Shard& shard = shard_of(key);
    std::lock_guard lock(shard.mutex);
    auto it = shard.entries.find(key);
    if (it == shard.entries.end() || it->second.expires_at <= now) return nullptr;
    return it->second.value;
  }

  Ticket ticket(const std::string& key) const {
    Shard& shard = shard_of(key);
    std::lock_guard lock(shard.mutex);
    return shard.generation;
  }

  // Caches `value` unless `key` was forgotten since `ticket` was taken (or the cache is off). Answers whether
  // it was cached.
  bool put(const std::string& key, std::shared_ptr<const Value> value, Ticket ticket) {
    if (ttl_ms_ <= 0) return false;
    const EpochMillis expires_at = clock_.now_ms() + ttl_ms_;
    Shard& shard = shard_of(key);
    std::lock_guard lock(shard.mutex);
    if (shard.generation != ticket)
      return false;  // forgotten since the caller's read: its value may be stale
    if (shard.entries.size() >= max_per_shard_ && !shard.entries.count(key)) shard.entries.clear();
    shard.entries[key] = Entry{std::move(value), expires_at};
    return true;
  }

  void forget(const std::string& key) {
    Shard& shard = shard_of(key);
    std::lock_guard lock(shard.mutex);
    ++shard.generation;
    shard.entries.erase(key);
  }

  std::size_t size() const {
    std::size_t n = 0;
    for (const Shard& shard : shards_) {
      std::lock_guard lock(shard.mutex);
      n += shard.entries.size();
    }
    return n;
  }

 private:
  struct Entry {
    std::shared_ptr<const Value> value;
    EpochMillis expires_at = 0;
  };
  struct Shard {
    mutable std::mutex mutex;
    std::unordered_map<std::string, Entry> entries;  // guarded by mutex
    Ticket generation = 0;                           // forget() count; guarded by mutex
  };
  static constexpr std::size_t kShards = 32;

  Shard& shard_of(const std::string& key) const { return shards_[std::hash<std::string>{}(key) % kShards]; }

  const Clock& clock_;
  const EpochMillis ttl_ms_;
  const std::size_t max_per_shard_;
  mutable std::array<Shard, kShards> shards_;
};

}  // namespace latchkey
