// Open provisioning sockets by address: a device being linked waits on one until its primary sends it the
// (end-to-end encrypted) provisioning message through the server.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "core/error.h"

namespace latchkey {

// The waiting socket, as the registry sees it. deliver() must not block.
class ProvisioningListener {
 public:
  virtual ~ProvisioningListener() = default;
  virtual void deliver(std::string body) = 0;  // body: the bytes the primary sent (opaque)
};

// Thread-safe. Addresses are random (256 bits) and single use.
class ProvisioningRegistry {
 public:
  void add(const std::string& address, std::shared_ptr<ProvisioningListener> listener);
  // Forgets the address if it still belongs to `listener`.
  void remove(const std::string& address, const ProvisioningListener* listener);
  // Hands `body` to the socket at `address` and forgets it. kNotFound when no such socket is open here.
  Status deliver(const std::string& address, std::string body);
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::string, std::shared_ptr<ProvisioningListener>> listeners_;  // guarded by mutex_
};

}  // namespace latchkey
