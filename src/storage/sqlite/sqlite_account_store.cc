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
                                                                 const Device& primary, EpochMillis now) {
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
          // Only the devices go: the account row stays, so its lock, backup and notices (which cascade from
          // it) are kept.
          auto remove = connection.prepare(kDeleteDevices);
          if (!remove.ok()) return remove.take_error();
          remove->bind_text(1, record.account.uuid);
          Result<int> removed = remove->run("removing the account's devices");
          if (!removed.ok()) return removed.take_error();
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
