#include "encrypted_storage/encrypted_storage_service.h"

#include <set>

#include "core/encoding.h"

namespace latchkey {
namespace {

Error too_many(std::size_t limit) {
  return make_error(ErrorCode::kMalformedRequest,
                    "at most " + std::to_string(limit) + " keys per request (storage_max_items_per_request)");
}

Status check_key(const std::string& key) {
  if (key.size() < EncryptedStorageService::kMinKeyBytes || key.size() > EncryptedStorageService::kMaxKeyBytes)
    return make_error(ErrorCode::kMalformedRequest, "every key must be 16 to 64 bytes");
  return {};
}

}  // namespace

EncryptedStorageService::EncryptedStorageService(const AccountsConfig& config, EncryptedStorageStore& store)
    : config_(config), store_(store) {}

Result<StorageManifest> EncryptedStorageService::get_manifest(const std::string& account_uuid) {
  auto found = store_.find_manifest(account_uuid);
  if (!found.ok()) return found.take_error();
  if (!found->has_value()) return make_error(ErrorCode::kNotFound, "no storage manifest for this account");
  return std::move(**found);
}

Status EncryptedStorageService::put_manifest(const std::string& account_uuid, const StorageManifest& manifest) {
  if (manifest.version < 1) return make_error(ErrorCode::kMalformedRequest, "version must be at least 1");
  if (manifest.value.empty()) return make_error(ErrorCode::kMalformedRequest, "value must not be empty");
  if (manifest.value.size() > config_.storage_max_manifest_bytes)
    return make_error(ErrorCode::kMalformedRequest, "value must be at most " +
                                                        std::to_string(config_.storage_max_manifest_bytes) +
                                                        " bytes (storage_max_manifest_bytes)");
  auto written = store_.put_manifest(account_uuid, manifest);
  if (!written.ok()) return written.take_error();
  if (written->written) return {};
  Error conflict = make_error(ErrorCode::kConflict,
                              written->current ? "version must be " + std::to_string(written->current->version + 1)
                                               : std::string("version must be 1: no manifest is stored"));
  nlohmann::json current = nullptr;
  if (written->current)
    current = {{"version", written->current->version}, {"value", base64_encode(written->current->value)}};
  conflict.details = {{"current", current}};
  return conflict;
}

Status EncryptedStorageService::put_items(const std::string& account_uuid, const std::vector<StorageItem>& items) {
  if (items.empty()) return make_error(ErrorCode::kMalformedRequest, "items must not be empty");
  if (items.size() > config_.storage_max_items_per_request) return too_many(config_.storage_max_items_per_request);
  std::set<std::string> seen;
  for (const StorageItem& item : items) {
    LK_RETURN_IF_ERROR(check_key(item.key));
    if (!seen.insert(item.key).second)
      return make_error(ErrorCode::kMalformedRequest, "a key appears twice in items");
    if (item.value.empty()) return make_error(ErrorCode::kMalformedRequest, "every value must not be empty");
    if (item.value.size() > config_.storage_max_value_bytes)
      return make_error(ErrorCode::kMalformedRequest, "every value must be at most " +
                                                          std::to_string(config_.storage_max_value_bytes) +
                                                          " bytes (storage_max_value_bytes)");
  }
  Status stored = store_.put_items(account_uuid, items, static_cast<std::int64_t>(config_.storage_max_items));
  if (!stored.ok() && stored.error().code == ErrorCode::kConflict)
    return make_error(ErrorCode::kMalformedRequest, "an account holds at most " +
                                                        std::to_string(config_.storage_max_items) +
                                                        " items (storage_max_items); delete some first");
  return stored;
}

Result<std::vector<StorageItem>> EncryptedStorageService::read_items(const std::string& account_uuid,
                                                                     const std::vector<std::string>& keys) {
  LK_RETURN_IF_ERROR(check_keys(keys));
  return store_.find_items(account_uuid, keys);
}

Status EncryptedStorageService::delete_items(const std::string& account_uuid, const std::vector<std::string>& keys) {
  LK_RETURN_IF_ERROR(check_keys(keys));
  auto deleted = store_.delete_items(account_uuid, keys);
  if (!deleted.ok()) return deleted.take_error();
  return {};
}

Status EncryptedStorageService::check_keys(const std::vector<std::string>& keys) const {
  if (keys.empty()) return make_error(ErrorCode::kMalformedRequest, "keys must not be empty");
  if (keys.size() > config_.storage_max_items_per_request) return too_many(config_.storage_max_items_per_request);
  for (const std::string& key : keys) LK_RETURN_IF_ERROR(check_key(key));
  return {};
}

}  // namespace latchkey
