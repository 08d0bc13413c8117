// Durable encrypted storage of an account's profile, contacts and block list. The server sees ciphertext only:
// one versioned manifest per account and any number of items under random keys chosen by the client. The
// rules (sizes, counts) live in encrypted_storage/encrypted_storage_service.h; rows are removed with the
// account and kept when its number is registered again.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"

namespace latchkey {

struct StorageManifest {
  std::int64_t version = 0;  // increases by exactly one with every accepted write, from 1
  std::string value;         // opaque encrypted bytes
};

struct StorageItem {
  std::string key;    // random id chosen by the client (raw bytes)
  std::string value;  // opaque encrypted bytes
};

// The outcome of a compare-and-set manifest write.
struct ManifestWrite {
  bool written = false;                    // true: the new manifest is stored
  std::optional<StorageManifest> current;  // when not written: the stored manifest (nullopt: none)
};

// Thread-safe. Every call may block on storage I/O (call from a worker thread).
// Errors other than those listed are kInternal or kUnavailable; writes for an account that does not exist
// fail with kInternal.
class EncryptedStorageStore {
 public:
  virtual ~EncryptedStorageStore() = default;

  // The account's manifest; nullopt if none was ever stored.
  virtual Result<std::optional<StorageManifest>> find_manifest(const std::string& account_uuid) = 0;

  // In one transaction: stores `manifest` if its version is the stored version + 1 (1 when none is stored);
  // otherwise stores nothing and answers the stored manifest. Concurrent writers are serialised, so exactly
  // one of two writes of the same version wins.
  virtual Result<ManifestWrite> put_manifest(const std::string& account_uuid, const StorageManifest& manifest) = 0;

  // In one transaction: inserts or replaces every item. kConflict (nothing stored) when the account would
  // then hold more than `max_items` items.
  virtual Status put_items(const std::string& account_uuid, const std::vector<StorageItem>& items,
                           std::int64_t max_items) = 0;

  // The stored items among `keys`, in the order of `keys`; keys not stored are left out.
  virtual Result<std::vector<StorageItem>> find_items(const std::string& account_uuid,
                                                      const std::vector<std::string>& keys) = 0;

  // Deletes the items under `keys` in one transaction; unknown keys are ignored. Answers how many were deleted.
  virtual Result<int> delete_items(const std::string& account_uuid, const std::vector<std::string>& keys) = 0;

  // How many items the account holds.
  virtual Result<std::int64_t> count_items(const std::string& account_uuid) = 0;
};

}  // namespace latchkey
