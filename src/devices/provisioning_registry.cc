#include "devices/provisioning_registry.h"

namespace latchkey {

void ProvisioningRegistry::add(const std::string& address, std::shared_ptr<ProvisioningListener> listener) {
  std::lock_guard lock(mutex_);
  listeners_[address] = std::move(listener);
}

void ProvisioningRegistry::remove(const std::string& address, const ProvisioningListener* listener) {
  std::shared_ptr<ProvisioningListener> removed;
  std::lock_guard lock(mutex_);
  auto it = listeners_.find(address);
  if (it != listeners_.end() && it->second.get() == listener) {
    removed = std::move(it->second);
    listeners_.erase(it);
  }
}

Status ProvisioningRegistry::deliver(const std::string& address, std::string body) {
  std::shared_ptr<ProvisioningListener> listener;
  {
    std::lock_guard lock(mutex_);
    auto it = listeners_.find(address);
    if (it == listeners_.end()) return make_error(ErrorCode::kNotFound, "no provisioning socket has this address");
    listener = std::move(it->second);
    listeners_.erase(it);
  }
  listener->deliver(std::move(body));
  return {};
}

std::size_t ProvisioningRegistry::size() const {
  std::lock_guard lock(mutex_);
  return listeners_.size();
}

}  // namespace latchkey
