#include "storage/sqlite/sqlite_encrypted_storage_store.h"

#include <string_view>

namespace latchkey {
namespace {

constexpr std::string_view kSelectManifest =
    "SELECT version, value FROM storage_manifests WHERE account_uuid = ?1";
constexpr std::string_view kUpsertManifest =
    "INSERT INTO storage_manifests (account_uuid, version, value) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (account_uuid) DO UPDATE SET version = excluded.version, value = excluded.value";
constexpr std::string_view kUpsertItem =
    "INSERT INTO storage_items (account_uuid, key, value) VALUES (?1, ?2, ?3) "
    "ON CONFLICT (account_uuid, key) DO UPDATE SET value = excluded.value";
constexpr std::string_view kSelectItem = "SELECT value FROM storage_items WHERE account_uuid = ?1 AND key = ?2";
constexpr std::string_view kDeleteItem = "DELETE FROM storage_items WHERE account_uuid = ?1 AND key = ?2";
constexpr std::string_view kCountItems = "SELECT count(*) FROM storage_items WHERE account_uuid = ?1";

Result<std::optional<StorageManifest>> load_manifest(SqliteConnection& connection, const std::string& account_uuid) {
  auto select = connection.prepare(kSelectManifest);
  if (!select.ok()) return select.take_error();
  select->bind_text(1, account_uuid);
  Result<bool> row = select->step("reading a storage manifest");
  if (!row.ok()) return row.take_error();
  if (!*row) return std::optional<StorageManifest>();
  StorageManifest manifest;
  manifest.version = select->column_int64(0);
  manifest.value = select->column_blob(1);
  return std::optional<StorageManifest>(std::move(manifest));
}

Result<std::int64_t> count_account_items(SqliteConnection& connection, const std::string& account_uuid) {
  auto count = connection.prepare(kCountItems);
  if (!count.ok()) return count.take_error();
  count->bind_text(1, account_uuid);
  Result<bool> row = count->step("counting storage items");
  if (!row.ok()) return row.take_error();
  if (!*row) return make_error(ErrorCode::kInternal, "counting storage items: no row");
  return count->column_int64(0);
}

}  // namespace

Result<std::optional<StorageManifest>> SqliteEncryptedStorageStore::find_manifest(const std::string& account_uuid) {
  return database_.read_returning<std::optional<StorageManifest>>(
      [&account_uuid](SqliteConnection& connection) { return load_manifest(connection, account_uuid); });
}

Result<ManifestWrite> SqliteEncryptedStorageStore::put_manifest(const std::string& account_uuid,
                                                                const StorageManifest& manifest) {
  return database_.write_returning<ManifestWrite>(
      [&account_uuid, &manifest](SqliteConnection& connection) -> Result<ManifestWrite> {
        ManifestWrite outcome;
        Result<std::optional<StorageManifest>> loaded = load_manifest(connection, account_uuid);
        if (!loaded.ok()) return loaded.take_error();
        const std::int64_t expected = loaded->has_value() ? (*loaded)->version + 1 : 1;
        if (manifest.version != expected) {
          outcome.current = std::move(*loaded);
          return outcome;
        }
        auto upsert = connection.prepare(kUpsertManifest);
        if (!upsert.ok()) return upsert.take_error();
        upsert->bind_text(1, account_uuid);
        upsert->bind_int64(2, manifest.version);
        upsert->bind_blob(3, manifest.value);
        Result<int> stored = upsert->run("storing a storage manifest");
        if (!stored.ok()) return stored.take_error();
        outcome.written = true;
        return outcome;
      });
}

Status SqliteEncryptedStorageStore::put_items(const std::string& account_uuid, const std::vector<StorageItem>& items,
                                              std::int64_t max_items) {
  return database_.write([&account_uuid, &items, max_items](SqliteConnection& connection) -> Status {
    for (const StorageItem& item : items) {
      auto upsert = connection.prepare(kUpsertItem);
      if (!upsert.ok()) return upsert.take_error();
      upsert->bind_text(1, account_uuid);
      upsert->bind_blob(2, item.key);
      upsert->bind_blob(3, item.value);
      Result<int> stored = upsert->run("storing a storage item");
      if (!stored.ok()) return stored.take_error();
    }
    // Counted after the upserts, inside the same closure: replaced items do not count twice, and a failure
    // rolls every upsert of this call back.
    Result<std::int64_t> count = count_account_items(connection, account_uuid);
    if (!count.ok()) return count.take_error();
    if (*count > max_items) return make_error(ErrorCode::kConflict, "the account would hold too many items");
    return {};
  });
}

Result<std::vector<StorageItem>> SqliteEncryptedStorageStore::find_items(const std::string& account_uuid,
                                                                         const std::vector<std::string>& keys) {
  return database_.read_returning<std::vector<StorageItem>>(
      [&account_uuid, &keys](SqliteConnection& connection) -> Result<std::vector<StorageItem>> {
        std::vector<StorageItem> found;
        for (const std::string& key : keys) {
          auto select = connection.prepare(kSelectItem);
          if (!select.ok()) return select.take_error();
          select->bind_text(1, account_uuid);
          select->bind_blob(2, key);
          Result<bool> row = select->step("reading a storage item");
          if (!row.ok()) return row.take_error();
          if (*row) found.push_back(StorageItem{key, select->column_blob(0)});
        }
        return found;
      });
}

Result<int> SqliteEncryptedStorageStore::delete_items(const std::string& account_uuid,
                                                      const std::vector<std::string>& keys) {
  return database_.write_returning<int>([&account_uuid, &keys](SqliteConnection& connection) -> Result<int> {
    int deleted = 0;
    for (const std::string& key : keys) {
      auto remove = connection.prepare(kDeleteItem);
      if (!remove.ok()) return remove.take_error();
      remove->bind_text(1, account_uuid);
      remove->bind_blob(2, key);
      Result<int> removed = remove->run("deleting a storage item");
      if (!removed.ok()) return removed.take_error();
      deleted += *removed;
    }
    return deleted;
  });
}

Result<std::int64_t> SqliteEncryptedStorageStore::count_items(const std::string& account_uuid) {
  return database_.read_returning<std::int64_t>(
      [&account_uuid](SqliteConnection& connection) { return count_account_items(connection, account_uuid); });
}

}  // namespace latchkey
