#include "storage/sqlite/sqlite_account_store.h"

#include <string_view>

namespace latchkey {
namespace {

constexpr std::string_view kSelectAccountByNumber =
    "SELECT uuid, number, created_at, registration_lock_record, recovery_password_record FROM accounts "
    "WHERE number = ?1";
constexpr std::string_view kSelectAccountByUuid =
    "SELECT uuid, number, created_at, registration_lock_record, recovery_password_record FROM accounts "
    "WHERE uuid = ?1";
constexpr std::string_view kInsertAccount =
    "INSERT INTO accounts (uuid, number, created_at) VALUES (?1, ?2, ?3)";
constexpr std::string_view kDeleteAccount = "DELETE FROM accounts WHERE uuid = ?1";
// An empty record is stored as NULL (no lock).
constexpr std::string_view kSetRecoveryPassword =
    "UPDATE accounts SET recovery_password_record = NULLIF(?2, x'') WHERE uuid = ?1";
constexpr std::string_view kSetRegistrationLock =
    "UPDATE accounts SET registration_lock_record = NULLIF(?2, x'') WHERE uuid = ?1";

constexpr std::string_view kSelectDevices =
    "SELECT device_id, password_hash, registration_id, name, created_at, last_seen_at FROM devices "
    "WHERE account_uuid = ?1 ORDER BY device_id";
constexpr std::string_view kSelectDevice =
    "SELECT device_id, password_hash, registration_id, name, created_at, last_seen_at FROM devices "
    "WHERE account_uuid = ?1 AND device_id = ?2";
constexpr std::string_view kInsertDevice =
    "INSERT INTO devices (account_uuid, device_id, password_hash, registration_id, name, created_at, "
    "last_seen_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
constexpr std::string_view kDeleteDevices = "DELETE FROM devices WHERE account_uuid = ?1";
constexpr std::string_view kInsertRegistrationLog =
    "INSERT INTO registration_log (number, uuid, at, provider, replaced_existing, account_created_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
constexpr std::string_view kClearIdentityKey = "UPDATE accounts SET identity_key = NULL WHERE uuid = ?1";
constexpr std::string_view kDeleteLinkCodes = "DELETE FROM device_link_codes WHERE account_uuid = ?1";
constexpr std::string_view kDeleteExpiredLinkCodes = "DELETE FROM device_link_codes WHERE expires_at <= ?1";
constexpr std::string_view kInsertLinkCode =
    "INSERT INTO device_link_codes (code_hash, account_uuid, expires_at) VALUES (?1, ?2, ?3)";
constexpr std::string_view kSelectLinkCode =
    "SELECT account_uuid FROM device_link_codes WHERE code_hash = ?1 AND expires_at > ?2";
constexpr std::string_view kDeleteLinkCode = "DELETE FROM device_link_codes WHERE code_hash = ?1";
constexpr std::string_view kSelectDeviceIds = "SELECT device_id FROM devices WHERE account_uuid = ?1 ORDER BY device_id";
constexpr std::string_view kDeleteDevice = "DELETE FROM devices WHERE account_uuid = ?1 AND device_id = ?2";
constexpr std::string_view kAccountExists = "SELECT 1 FROM accounts WHERE uuid = ?1";
constexpr std::string_view kTouchDevice =
    "UPDATE devices SET last_seen_at = ?3 WHERE account_uuid = ?1 AND device_id = ?2";

Device read_device(const SqliteStatement& row) {
  Device device;
  device.id = static_cast<std::uint32_t>(row.column_int64(0));
  device.password_hash = row.column_blob(1);
  device.registration_id = static_cast<int>(row.column_int64(2));
  device.name = row.column_blob(3);
  device.created_at = row.column_int64(4);
  device.last_seen_at = row.column_int64(5);
  return device;
}

}  // namespace

Result<RegistrationRecord> SqliteAccountStore::create_or_replace(const std::string& number,
                                                                 const std::string& new_uuid,
                                                                 const Device& primary, EpochMillis now,
                                                                 const std::string& code_provider) {
  Device device = primary;
  if (device.created_at == 0) device.created_at = now;
  if (device.last_seen_at == 0) device.last_seen_at = now;

  return database_.write_returning<RegistrationRecord>(
      [&](SqliteConnection& connection) -> Result<RegistrationRecord> {
        RegistrationRecord record;
        record.account.number = number;
        {
          auto select = connection.prepare(kSelectAccountByNumber);
          if (!select.ok()) return select.take_error();
          select->bind_text(1, number);
          Result<bool> row = select->step("reading the number's account");
          if (!row.ok()) return row.take_error();
          if (*row) {
            record.account.uuid = select->column_text(0);
            record.account.created_at = select->column_int64(2);
            record.account.registration_lock_record = select->column_blob(3);
            record.account.recovery_password_record = select->column_blob(4);
            record.replaced_existing = true;
          }
        }
        if (record.replaced_existing) {
          // Only the devices go (with their keys and queued envelopes, by cascade): the account row stays, so
          // its lock, backup and notices are kept. The identity was the old owner's.
          for (std::string_view sql : {kDeleteDevices, kClearIdentityKey, kDeleteLinkCodes}) {
            auto remove = connection.prepare(sql);
            if (!remove.ok()) return remove.take_error();
            remove->bind_text(1, record.account.uuid);
            Result<int> removed = remove->run("removing the account's devices");
            if (!removed.ok()) return removed.take_error();
          }
        } else {
          record.account.uuid = new_uuid;
          record.account.created_at = now;
          auto insert = connection.prepare(kInsertAccount);
          if (!insert.ok()) return insert.take_error();
          insert->bind_text(1, record.account.uuid);
          insert->bind_text(2, number);
          insert->bind_int64(3, now);
          Result<int> inserted = insert->run("inserting an account");
          if (!inserted.ok()) return inserted.take_error();
        }
        auto insert = connection.prepare(kInsertDevice);
        if (!insert.ok()) return insert.take_error();
        insert->bind_text(1, record.account.uuid);
        insert->bind_int64(2, device.id);
        insert->bind_blob(3, device.password_hash);
        insert->bind_int64(4, device.registration_id);
        insert->bind_blob(5, device.name);
        insert->bind_int64(6, device.created_at);
        insert->bind_int64(7, device.last_seen_at);
        Result<int> inserted = insert->run("inserting the primary device");
        if (!inserted.ok()) return inserted.take_error();
        record.account.devices.push_back(device);
        // The registration log commits with the registration: no registration escapes incident response.
        auto log = connection.prepare(kInsertRegistrationLog);
        if (!log.ok()) return log.take_error();
        log->bind_text(1, number);
        log->bind_text(2, record.account.uuid);
        log->bind_int64(3, now);
        log->bind_text(4, code_provider);
        log->bind_int64(5, record.replaced_existing ? 1 : 0);
        log->bind_int64(6, record.account.created_at);
        Result<int> logged = log->run("logging the registration");
        if (!logged.ok()) return logged.take_error();
        return record;
      });
}

Result<std::optional<Account>> SqliteAccountStore::find_account(std::string_view sql,
                                                                const std::string& key) {
  return database_.read_returning<std::optional<Account>>(
      [sql, &key](SqliteConnection& connection) -> Result<std::optional<Account>> {
        Account account;
        {
          auto select = connection.prepare(sql);
          if (!select.ok()) return select.take_error();
          select->bind_text(1, key);
          Result<bool> row = select->step("reading an account");
          if (!row.ok()) return row.take_error();
          if (!*row) return std::optional<Account>();
          account.uuid = select->column_text(0);
          account.number = select->column_text(1);
          account.created_at = select->column_int64(2);
          account.registration_lock_record = select->column_blob(3);
          account.recovery_password_record = select->column_blob(4);
        }
        auto devices = connection.prepare(kSelectDevices);
        if (!devices.ok()) return devices.take_error();
        devices->bind_text(1, account.uuid);
        for (;;) {
          Result<bool> row = devices->step("reading an account's devices");
          if (!row.ok()) return row.take_error();
          if (!*row) break;
          account.devices.push_back(read_device(*devices));
        }
        return std::optional<Account>(std::move(account));
      });
}

Result<std::optional<Account>> SqliteAccountStore::find_by_uuid(const std::string& uuid) {
  return find_account(kSelectAccountByUuid, uuid);
}

Result<std::optional<Account>> SqliteAccountStore::find_by_number(const std::string& number) {
  return find_account(kSelectAccountByNumber, number);
}

Result<std::optional<Device>> SqliteAccountStore::find_device(const std::string& uuid,
                                                              std::uint32_t device_id) {
  return database_.read_returning<std::optional<Device>>(
      [&uuid, device_id](SqliteConnection& connection) -> Result<std::optional<Device>> {
        auto select = connection.prepare(kSelectDevice);
        if (!select.ok()) return select.take_error();
        select->bind_text(1, uuid);
        select->bind_int64(2, device_id);
        Result<bool> row = select->step("reading a device");
        if (!row.ok()) return row.take_error();
        if (!*row) return std::optional<Device>();
        return std::optional<Device>(read_device(*select));
      });
}

Status SqliteAccountStore::touch_device(const std::string& uuid, std::uint32_t device_id, EpochMillis now) {
  return database_.write([&uuid, device_id, now](SqliteConnection& connection) -> Status {
    auto update = connection.prepare(kTouchDevice);
    if (!update.ok()) return update.take_error();
    update->bind_text(1, uuid);
    update->bind_int64(2, device_id);
    update->bind_int64(3, now);
    Result<int> changed = update->run("recording a device as seen");
    if (!changed.ok()) return changed.take_error();
    return {};
  });
}

Status SqliteAccountStore::set_registration_lock(const std::string& uuid, const std::string& record) {
  return database_.write([&uuid, &record](SqliteConnection& connection) -> Status {
    auto update = connection.prepare(kSetRegistrationLock);
    if (!update.ok()) return update.take_error();
    update->bind_text(1, uuid);
    update->bind_blob(2, record);
    Result<int> changed = update->run("setting the registration lock");
    if (!changed.ok()) return changed.take_error();
    if (*changed == 0) return make_error(ErrorCode::kNotFound, "no such account");
    return {};
  });
}

Status SqliteAccountStore::set_recovery_password(const std::string& uuid, const std::string& record) {
  return database_.write([&uuid, &record](SqliteConnection& connection) -> Status {
    auto update = connection.prepare(kSetRecoveryPassword);
    if (!update.ok()) return update.take_error();
    update->bind_text(1, uuid);
    update->bind_blob(2, record);
    Result<int> changed = update->run("setting the recovery password");
    if (!changed.ok()) return changed.take_error();
    if (*changed == 0) return make_error(ErrorCode::kNotFound, "no such account");
    return {};
  });
}

Status SqliteAccountStore::delete_account(const std::string& uuid) {
  return database_.write([&uuid](SqliteConnection& connection) -> Status {
    auto remove = connection.prepare(kDeleteAccount);
    if (!remove.ok()) return remove.take_error();
    remove->bind_text(1, uuid);
    Result<int> removed = remove->run("deleting an account");
    if (!removed.ok()) return removed.take_error();
    if (*removed == 0) return make_error(ErrorCode::kNotFound, "no such account");
    return {};
  });
}

}  // namespace latchkey

namespace latchkey {

Status SqliteAccountStore::put_link_code(const std::string& uuid, const std::string& code_hash,
                                         EpochMillis expires_at) {
  return database_.write([&](SqliteConnection& connection) -> Status {
    {
      auto exists = connection.prepare(kAccountExists);
      if (!exists.ok()) return exists.take_error();
      exists->bind_text(1, uuid);
      Result<bool> row = exists->step("reading an account");
      if (!row.ok()) return row.take_error();
      if (!*row) return make_error(ErrorCode::kNotFound, "no such account");
    }
    {
      // Codes live minutes; dropping the expired ones here keeps the table small without a sweeper.
      auto expired = connection.prepare(kDeleteExpiredLinkCodes);
      if (!expired.ok()) return expired.take_error();
      expired->bind_int64(1, expires_at - 24LL * 3600 * 1000);
      LK_RETURN_IF_ERROR(expired->run("deleting expired link codes"));
    }
    auto insert = connection.prepare(kInsertLinkCode);
    if (!insert.ok()) return insert.take_error();
    insert->bind_blob(1, code_hash);
    insert->bind_text(2, uuid);
    insert->bind_int64(3, expires_at);
    LK_RETURN_IF_ERROR(insert->run("storing a link code"));
    return {};
  });
}

Result<LinkedDevice> SqliteAccountStore::link_device(const std::string& code_hash, const Device& device,
                                                     int max_linked, EpochMillis now) {
  return database_.write_returning<LinkedDevice>([&](SqliteConnection& connection) -> Result<LinkedDevice> {
    LinkedDevice linked;
    {
      auto select = connection.prepare(kSelectLinkCode);
      if (!select.ok()) return select.take_error();
      select->bind_blob(1, code_hash);
      select->bind_int64(2, now);
      Result<bool> row = select->step("reading a link code");
      if (!row.ok()) return row.take_error();
      if (!*row) return make_error(ErrorCode::kForbidden, "the verification code is not valid");
      linked.uuid = select->column_text(0);
    }
    std::vector<std::uint32_t> ids;
    {
      auto select = connection.prepare(kSelectDeviceIds);
      if (!select.ok()) return select.take_error();
      select->bind_text(1, linked.uuid);
      for (;;) {
        Result<bool> row = select->step("reading device ids");
        if (!row.ok()) return row.take_error();
        if (!*row) break;
        ids.push_back(static_cast<std::uint32_t>(select->column_int64(0)));
      }
    }
    if (ids.size() >= static_cast<std::size_t>(max_linked) + 1)
      return make_error(ErrorCode::kConflict, "too many devices");
    std::uint32_t id = 2;
    for (std::uint32_t used : ids)
      if (used == id) ++id;
    linked.device_id = id;
    {
      auto remove = connection.prepare(kDeleteLinkCode);
      if (!remove.ok()) return remove.take_error();
      remove->bind_blob(1, code_hash);
      LK_RETURN_IF_ERROR(remove->run("consuming a link code"));
    }
    auto insert = connection.prepare(kInsertDevice);
    if (!insert.ok()) return insert.take_error();
    insert->bind_text(1, linked.uuid);
    insert->bind_int64(2, id);
    insert->bind_blob(3, device.password_hash);
    insert->bind_int64(4, device.registration_id);
    insert->bind_blob(5, device.name);
    insert->bind_int64(6, now);
    insert->bind_int64(7, now);
    LK_RETURN_IF_ERROR(insert->run("inserting a linked device"));
    return linked;
  });
}

Status SqliteAccountStore::remove_device(const std::string& uuid, std::uint32_t device_id) {
  return database_.write([&](SqliteConnection& connection) -> Status {
    auto remove = connection.prepare(kDeleteDevice);
    if (!remove.ok()) return remove.take_error();
    remove->bind_text(1, uuid);
    remove->bind_int64(2, device_id);
    Result<int> removed = remove->run("removing a device");
    if (!removed.ok()) return removed.take_error();
    if (*removed == 0) return make_error(ErrorCode::kNotFound, "no such device");
    return {};
  });
}

}  // namespace latchkey
