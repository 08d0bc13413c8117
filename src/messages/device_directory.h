// The relay's in-memory view of which devices each account has, so that a send can be checked (409/410 in the
// API) without a storage read and, on a socket, without leaving its I/O thread. Storage stays the authority:
// the envelope insert itself refuses a device that no longer exists or whose registration id changed.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/config.h"
#include "core/ticketed_cache.h"

namespace latchkey {

struct DirectoryDevice {
  std::uint32_t id = 0;
  int registration_id = 0;
};
using DeviceList = std::vector<DirectoryDevice>;  // ordered by id

// Thread-safe, non-blocking (short mutex sections only).
//
// Consistency (core/ticketed_cache.h): forget() is called by whoever changes an account's devices
// (re-registration, link, removal, deletion, incident unregistration) after the change is durable; callers
// take a ticket() before the storage read and pass it to put(). Entries expire after
// messages.device_cache_ttl, which bounds staleness from changes made by another process.
class DeviceDirectory {
 public:
  DeviceDirectory(const MessagesConfig& config, const Clock& clock);

  // The cached devices of `uuid`, or nullptr (not cached or expired).
  std::shared_ptr<const DeviceList> find(const std::string& uuid) const { return cache_.find(uuid); }

  using Ticket = TicketedCache<DeviceList>::Ticket;
  Ticket ticket(const std::string& uuid) const { return cache_.ticket(uuid); }
  // Caches `devices`, unless `uuid` was forgotten since `ticket` was taken. The cache is bounded by
  // messages.device_cache_entries. Answers the list, ordered, cached or not.
  std::shared_ptr<const DeviceList> put(const std::string& uuid, DeviceList devices, Ticket ticket);
  void forget(const std::string& uuid) { cache_.forget(uuid); }

  std::size_t size() const { return cache_.size(); }

 private:
  TicketedCache<DeviceList> cache_;
};

}  // namespace latchkey
