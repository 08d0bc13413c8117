// EncryptedStorageStore on a SqliteDatabase: one row per account in storage_manifests and one per item in
// storage_items, both removed with the account by ON DELETE CASCADE.
#pragma once

#include "storage/encrypted_storage_store.h"
#include "storage/sqlite/sqlite_database.h"

namespace latchkey {

// Thread-safe (every call goes through SqliteDatabase). Writes are group-committed and durable when they
// answer ok. put_manifest and put_items each run as one write closure, so the version check and the item
// count check are atomic with their writes. Errors besides those of EncryptedStorageStore: kUnavailable once
// the database is closed or locked by another process, kInternal for any other SQLite failure.
class SqliteEncryptedStorageStore final : public EncryptedStorageStore {
 public:
  // `database` is not owned and must outlive the store.
  explicit SqliteEncryptedStorageStore(SqliteDatabase& database) : database_(database) {}

  Result<std::optional<StorageManifest>> find_manifest(const std::string& account_uuid) override;
  Result<ManifestWrite> put_manifest(const std::string& account_uuid, const StorageManifest& manifest) override;
  Status put_items(const std::string& account_uuid, const std::vector<StorageItem>& items,
                   std::int64_t max_items) override;
  Result<std::vector<StorageItem>> find_items(const std::string& account_uuid,
                                              const std::vector<std::string>& keys) override;
  Result<int> delete_items(const std::string& account_uuid, const std::vector<std::string>& keys) override;
  Result<std::int64_t> count_items(const std::string& account_uuid) override;

 private:
  SqliteDatabase& database_;
};

}  // namespace latchkey
