#include "messages/device_directory.h"

#include <algorithm>

namespace latchkey {

DeviceDirectory::DeviceDirectory(const MessagesConfig& config, const Clock& clock)
    : cache_(config.device_cache_ttl, config.device_cache_entries, clock) {}

std::shared_ptr<const DeviceList> DeviceDirectory::put(const std::string& uuid, DeviceList devices, Ticket ticket) {
  std::sort(devices.begin(), devices.end(), [](const DirectoryDevice& a, const DirectoryDevice& b) { return a.id < b.id; });
  auto list = std::make_shared<const DeviceList>(std::move(devices));
  cache_.put(uuid, list, ticket);
  return list;
}

}  // namespace latchkey
