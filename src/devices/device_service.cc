#include "devices/device_service.h"

#include <sodium.h>

#include "core/encoding.h"
#include "core/logging.h"
#include "crypto/secret_hash.h"

namespace latchkey {
namespace {

// Link codes carry 256 bits of randomness, so an unkeyed hash is enough to keep them out of the database.
std::string code_hash(std::string_view code) {
  unsigned char out[crypto_generichash_BYTES];
  crypto_generichash(out, sizeof out, reinterpret_cast<const unsigned char*>(code.data()), code.size(),
                     reinterpret_cast<const unsigned char*>("latchkey link code"), 18);
  return std::string(reinterpret_cast<const char*>(out), sizeof out);
}

}  // namespace

DeviceService::DeviceService(const DevicesConfig& config, const AccountsConfig& accounts_config, Storage& storage,
                             Limits& limits, const Clock& clock, Random& random)
    : config_(config),
      accounts_config_(accounts_config),
      storage_(storage),
      limits_(limits),
      clock_(clock),
      random_(random) {}

Result<std::vector<Device>> DeviceService::list(const AuthenticatedDevice& caller) {
  Result<std::optional<Account>> account = storage_.accounts().find_by_uuid(caller.uuid);
  if (!account.ok()) return account.take_error();
  if (!account->has_value()) return make_error(ErrorCode::kUnauthorized, "the account no longer exists");
  return std::move((*account)->devices);
}

Result<LinkCode> DeviceService::issue_link_code(const AuthenticatedDevice& caller) {
  if (caller.device.id != 1) return make_error(ErrorCode::kForbidden, "only device 1 may link new devices");
  LinkCode code{base64url_encode(random_bytes(random_, 32)), config_.link_code_ttl};
  EpochMillis expires = clock_.now_ms() + std::chrono::duration_cast<std::chrono::milliseconds>(code.ttl).count();
  LK_RETURN_IF_ERROR(storage_.accounts().put_link_code(caller.uuid, code_hash(code.code), expires));
  return code;
}

Result<LinkedDevice> DeviceService::link(const LinkRequest& request) {
  if (request.password.size() < accounts_config_.min_password_length ||
      request.password.size() > accounts_config_.max_password_length)
    return make_error(ErrorCode::kMalformedRequest,
                      "password must be " + std::to_string(accounts_config_.min_password_length) + " to " +
                          std::to_string(accounts_config_.max_password_length) + " bytes");
  if (request.registration_id < 1 || request.registration_id > 16383)
    return make_error(ErrorCode::kMalformedRequest, "registrationId must be 1 to 16383");
  if (request.name.size() > accounts_config_.max_name_bytes)
    return make_error(ErrorCode::kMalformedRequest,
                      "name must be at most " + std::to_string(accounts_config_.max_name_bytes) + " bytes");
  EpochMillis now = clock_.now_ms();
  LK_RETURN_IF_ERROR(limits_.check(Limit::kDeviceLinkPerIp, request.client_ip, now));
  Device device;
  device.password_hash = hash_password(random_, request.password);
  device.registration_id = static_cast<int>(request.registration_id);
  device.name = request.name;
  Result<LinkedDevice> linked = storage_.accounts().link_device(code_hash(request.verification_code), device,
                                                                config_.max_linked_devices, now);
  if (linked.ok()) {
    log::info("device_linked", {{"uuid", linked->uuid}, {"device_id", linked->device_id}});
    if (device_added_) device_added_(linked->uuid);
  }
  return linked;
}

Status DeviceService::remove(const AuthenticatedDevice& caller, std::uint32_t device_id) {
  if (device_id == 1) return make_error(ErrorCode::kForbidden, "device 1 cannot be removed; delete the account instead");
  if (caller.device.id != 1 && caller.device.id != device_id)
    return make_error(ErrorCode::kForbidden, "a linked device may remove only itself");
  LK_RETURN_IF_ERROR(storage_.accounts().remove_device(caller.uuid, device_id));
  log::info("device_removed", {{"uuid", caller.uuid}, {"device_id", device_id}, {"by_device", caller.device.id}});
  if (devices_removed_) devices_removed_(caller.uuid, device_id);
  return {};
}

}  // namespace latchkey
