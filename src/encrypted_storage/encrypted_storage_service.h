// Encrypted storage of the client's profile, contacts and block list. The client encrypts everything: the
// server keeps one versioned manifest per account and items under random keys, and checks only sizes, counts
// and the manifest's version sequence. Limits come from AccountsConfig (storage_max_*).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "storage/encrypted_storage_store.h"

namespace latchkey {

// Thread-safe; calls block on storage (worker threads only). Every limit violation is kMalformedRequest with
// a message naming the limit. Storage failures are passed on (kUnavailable, kInternal).
class EncryptedStorageService {
 public:
  static constexpr std::size_t kMinKeyBytes = 16;
  static constexpr std::size_t kMaxKeyBytes = 64;

  // `config` and `store` are not owned and must outlive the service.
  EncryptedStorageService(const AccountsConfig& config, EncryptedStorageStore& store);

  // The account's manifest. kNotFound when none was stored.
  Result<StorageManifest> get_manifest(const std::string& account_uuid);

  // Stores the manifest if `manifest.version` is the stored version + 1 (1 when none is stored).
  // kMalformedRequest: version below 1, value empty or longer than storage_max_manifest_bytes.
  // kConflict: another version was expected; details {"current": {"version", "value" (standard base64)}}
  // or {"current": null} when none is stored.
  Status put_manifest(const std::string& account_uuid, const StorageManifest& manifest);

  // Inserts or replaces every item, all or nothing. kMalformedRequest: no items or more than
  // storage_max_items_per_request, a key not 16..64 bytes, a key twice, a value empty or longer than
  // storage_max_value_bytes, or the account would hold more than storage_max_items items.
  Status put_items(const std::string& account_uuid, const std::vector<StorageItem>& items);

  // The stored items among `keys` (missing keys are left out). kMalformedRequest: no keys or more than
  // storage_max_items_per_request, or a key not 16..64 bytes.
  Result<std::vector<StorageItem>> read_items(const std::string& account_uuid, const std::vector<std::string>& keys);

  // Deletes the items under `keys`; unknown keys are ignored. kMalformedRequest as read_items.
  Status delete_items(const std::string& account_uuid, const std::vector<std::string>& keys);

  const AccountsConfig& limits() const { return config_; }

 private:
  Status check_keys(const std::vector<std::string>& keys) const;

  const AccountsConfig& config_;
  EncryptedStorageStore& store_;
};

}  // namespace latchkey
