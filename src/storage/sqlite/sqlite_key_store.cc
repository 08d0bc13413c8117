#include "storage/sqlite/sqlite_key_store.h"

#include <string_view>

namespace latchkey {
namespace {

constexpr std::string_view kSelectIdentity =
    "SELECT a.identity_key FROM accounts a JOIN devices d ON d.account_uuid = a.uuid "
    "WHERE a.uuid = ?1 AND d.device_id = ?2";
constexpr std::string_view kSetIdentity = "UPDATE accounts SET identity_key = ?2 WHERE uuid = ?1";
// Every key signed by (or made for) an old identity goes when the identity changes, the uploading device's too:
// a bundle must never pair the new identity with a signed prekey of the old one.
constexpr std::string_view kDeleteAccountSignedPreKeys = "DELETE FROM signed_prekeys WHERE account_uuid = ?1";
constexpr std::string_view kDeleteAccountPreKeys = "DELETE FROM prekeys WHERE account_uuid = ?1";
constexpr std::string_view kUpsertSignedPreKey =
    "INSERT INTO signed_prekeys (account_uuid, device_id, key_id, public_key, signature) VALUES (?1, ?2, ?3, ?4, ?5) "
    "ON CONFLICT (account_uuid, device_id) DO UPDATE SET key_id = excluded.key_id, "
    "public_key = excluded.public_key, signature = excluded.signature";
constexpr std::string_view kUpsertPreKey =
    "INSERT INTO prekeys (account_uuid, device_id, key_id, public_key) VALUES (?1, ?2, ?3, ?4) "
    "ON CONFLICT (account_uuid, device_id, key_id) DO UPDATE SET public_key = excluded.public_key";
constexpr std::string_view kCountPreKeys = "SELECT count(*) FROM prekeys WHERE account_uuid = ?1 AND device_id = ?2";
constexpr std::string_view kSelectAccountIdentity = "SELECT identity_key FROM accounts WHERE uuid = ?1";
constexpr std::string_view kSelectSignedPreKeys =
    "SELECT s.device_id, d.registration_id, s.key_id, s.public_key, s.signature FROM signed_prekeys s "
    "JOIN devices d ON d.account_uuid = s.account_uuid AND d.device_id = s.device_id "
    "WHERE s.account_uuid = ?1 AND (?2 = -1 OR s.device_id = ?2) ORDER BY s.device_id";
constexpr std::string_view kSelectOnePreKey =
    "SELECT key_id, public_key FROM prekeys WHERE account_uuid = ?1 AND device_id = ?2 ORDER BY key_id LIMIT 1";
constexpr std::string_view kDeletePreKey =
    "DELETE FROM prekeys WHERE account_uuid = ?1 AND device_id = ?2 AND key_id = ?3";

Result<std::size_t> count_in(SqliteConnection& connection, const std::string& uuid, std::uint32_t device_id) {
  auto select = connection.prepare(kCountPreKeys);
  if (!select.ok()) return select.take_error();
  select->bind_text(1, uuid);
  select->bind_int64(2, device_id);
  Result<bool> row = select->step("counting prekeys");
  if (!row.ok()) return row.take_error();
  return static_cast<std::size_t>(select->column_int64(0));
}

}  // namespace

Status SqliteKeyStore::store(const std::string& uuid, std::uint32_t device_id, const KeyUpload& upload,
                             std::size_t max_stored) {
  return database_.write([&](SqliteConnection& connection) -> Status {
    std::string stored_identity;
    {
      auto select = connection.prepare(kSelectIdentity);
      if (!select.ok()) return select.take_error();
      select->bind_text(1, uuid);
      select->bind_int64(2, device_id);
      Result<bool> row = select->step("reading the identity key");
      if (!row.ok()) return row.take_error();
      if (!*row) return make_error(ErrorCode::kNotFound, "no such device");
      stored_identity = select->column_blob(0);
    }
    if (stored_identity != upload.identity_key) {
      if (!upload.may_set_identity)
        return make_error(ErrorCode::kConflict, "identityKey differs from the account's; only device 1 may change it");
      auto set = connection.prepare(kSetIdentity);
      if (!set.ok()) return set.take_error();
      set->bind_text(1, uuid);
      set->bind_blob(2, upload.identity_key);
      LK_RETURN_IF_ERROR(set->run("setting the identity key"));
      if (!stored_identity.empty()) {
        for (std::string_view sql : {kDeleteAccountSignedPreKeys, kDeleteAccountPreKeys}) {
          auto remove = connection.prepare(sql);
          if (!remove.ok()) return remove.take_error();
          remove->bind_text(1, uuid);
          LK_RETURN_IF_ERROR(remove->run("removing keys made for the old identity"));
        }
      }
    }
    if (upload.signed_prekey) {
      auto upsert = connection.prepare(kUpsertSignedPreKey);
      if (!upsert.ok()) return upsert.take_error();
      upsert->bind_text(1, uuid);
      upsert->bind_int64(2, device_id);
      upsert->bind_int64(3, upload.signed_prekey->key_id);
      upsert->bind_blob(4, upload.signed_prekey->public_key);
      upsert->bind_blob(5, upload.signed_prekey->signature);
      LK_RETURN_IF_ERROR(upsert->run("storing a signed prekey"));
    }
    for (const PreKey& key : upload.prekeys) {
      auto upsert = connection.prepare(kUpsertPreKey);
      if (!upsert.ok()) return upsert.take_error();
      upsert->bind_text(1, uuid);
      upsert->bind_int64(2, device_id);
      upsert->bind_int64(3, key.key_id);
      upsert->bind_blob(4, key.public_key);
      LK_RETURN_IF_ERROR(upsert->run("storing a prekey"));
    }
    if (!upload.prekeys.empty()) {
      Result<std::size_t> count = count_in(connection, uuid, device_id);
      if (!count.ok()) return count.take_error();
      if (*count > max_stored)
        return make_error(ErrorCode::kMalformedRequest,
                          "preKeys would exceed the " + std::to_string(max_stored) + " one-time prekeys a device may hold");
    }
    return {};
  });
}

Result<std::size_t> SqliteKeyStore::count_prekeys(const std::string& uuid, std::uint32_t device_id) {
  return database_.read_returning<std::size_t>(
      [&](SqliteConnection& connection) { return count_in(connection, uuid, device_id); });
}

Result<AccountBundles> SqliteKeyStore::take_bundles(const std::string& uuid, std::optional<std::uint32_t> device_id) {
  return database_.write_returning<AccountBundles>([&](SqliteConnection& connection) -> Result<AccountBundles> {
    AccountBundles bundles;
    {
      auto select = connection.prepare(kSelectAccountIdentity);
      if (!select.ok()) return select.take_error();
      select->bind_text(1, uuid);
      Result<bool> row = select->step("reading the identity key");
      if (!row.ok()) return row.take_error();
      if (!*row) return bundles;
      bundles.identity_key = select->column_blob(0);
      if (bundles.identity_key.empty()) return bundles;
    }
    {
      auto select = connection.prepare(kSelectSignedPreKeys);
      if (!select.ok()) return select.take_error();
      select->bind_text(1, uuid);
      select->bind_int64(2, device_id ? static_cast<std::int64_t>(*device_id) : -1);  // -1: every device
      for (;;) {
        Result<bool> row = select->step("reading signed prekeys");
        if (!row.ok()) return row.take_error();
        if (!*row) break;
        DeviceBundle bundle;
        bundle.device_id = static_cast<std::uint32_t>(select->column_int64(0));
        bundle.registration_id = static_cast<int>(select->column_int64(1));
        bundle.signed_prekey.key_id = static_cast<std::uint32_t>(select->column_int64(2));
        bundle.signed_prekey.public_key = select->column_blob(3);
        bundle.signed_prekey.signature = select->column_blob(4);
        bundles.devices.push_back(std::move(bundle));
      }
    }
    for (DeviceBundle& bundle : bundles.devices) {
      {
        auto select = connection.prepare(kSelectOnePreKey);
        if (!select.ok()) return select.take_error();
        select->bind_text(1, uuid);
        select->bind_int64(2, bundle.device_id);
        Result<bool> row = select->step("reading a prekey");
        if (!row.ok()) return row.take_error();
        if (!*row) continue;
        bundle.prekey = PreKey{static_cast<std::uint32_t>(select->column_int64(0)), select->column_blob(1)};
      }
      auto remove = connection.prepare(kDeletePreKey);
      if (!remove.ok()) return remove.take_error();
      remove->bind_text(1, uuid);
      remove->bind_int64(2, bundle.device_id);
      remove->bind_int64(3, bundle.prekey->key_id);
      LK_RETURN_IF_ERROR(remove->run("taking a prekey"));
    }
    return bundles;
  });
}

}  // namespace latchkey
