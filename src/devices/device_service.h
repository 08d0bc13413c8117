// Linked devices: a primary plus up to devices.max_linked_devices more. Linking works like Signal's: the new
// device opens a provisioning socket and shows its address; the primary asks for a short-lived link code and
// sends it, encrypted to the new device, through the server; the new device then calls link() with the code.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "accounts/account_service.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "crypto/random.h"
#include "limits/rate_limiter.h"
#include "storage/storage.h"

namespace latchkey {

struct LinkCode {
  std::string code;  // 43 characters, base64url of 32 random bytes; kept by the server only as a hash
  Duration ttl;
};

struct LinkRequest {
  std::string verification_code;
  std::string password;
  std::int64_t registration_id = 0;
  std::string name;
  std::string client_ip;
};

// Thread-safe; every call may block on storage.
class DeviceService {
 public:
  DeviceService(const DevicesConfig& config, const AccountsConfig& accounts_config, Storage& storage, Limits& limits,
                const Clock& clock, Random& random);

  Result<std::vector<Device>> list(const AuthenticatedDevice& caller);

  // Device 1 only (kForbidden otherwise).
  Result<LinkCode> issue_link_code(const AuthenticatedDevice& caller);

  // kMalformedRequest (password, registration id, name), kRateLimited (device_link_per_ip), kForbidden (bad,
  // used or expired code), kConflict (too many devices).
  Result<LinkedDevice> link(const LinkRequest& request);

  // Device 1 removes any linked device; a linked device only itself. kForbidden otherwise or for device 1;
  // kNotFound if there is no such device. Tells the devices-removed listener.
  Status remove(const AuthenticatedDevice& caller, std::uint32_t device_id);

  void set_devices_removed_listener(DevicesRemovedListener listener) { devices_removed_ = std::move(listener); }
  // Told after link() added a device to the account `uuid` (the relay's device cache). Must not block.
  void set_device_added_listener(std::function<void(const std::string& uuid)> listener) {
    device_added_ = std::move(listener);
  }

 private:
  const DevicesConfig& config_;
  const AccountsConfig& accounts_config_;
  Storage& storage_;
  Limits& limits_;
  const Clock& clock_;
  Random& random_;
  DevicesRemovedListener devices_removed_;
  std::function<void(const std::string& uuid)> device_added_;
};

}  // namespace latchkey
