#include "storage/sqlite/sqlite_backup_store.h"

#include <string_view>

namespace latchkey {
namespace {

constexpr std::string_view kUpsertBackup =
    "INSERT INTO backups (account_uuid, access_key_record, data, max_tries, tries_remaining, exposed, "
    "updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (account_uuid) DO UPDATE SET "
    "access_key_record = excluded.access_key_record, data = excluded.data, max_tries = excluded.max_tries, "
    "tries_remaining = excluded.tries_remaining, exposed = excluded.exposed, updated_at = excluded.updated_at";
constexpr std::string_view kSelectBackup =
    "SELECT account_uuid, access_key_record, data, max_tries, tries_remaining, exposed, updated_at "
    "FROM backups WHERE account_uuid = ?1";
constexpr std::string_view kExposeBackup = "UPDATE backups SET exposed = 1 WHERE account_uuid = ?1";
constexpr std::string_view kSetTriesRemaining =
    "UPDATE backups SET tries_remaining = ?2 WHERE account_uuid = ?1";
constexpr std::string_view kDeleteBackup = "DELETE FROM backups WHERE account_uuid = ?1";

// Loads the account's backup on `connection`; nullopt if there is none.
Result<std::optional<Backup>> load_backup(SqliteConnection& connection, const std::string& account_uuid) {
  auto select = connection.prepare(kSelectBackup);
  if (!select.ok()) return select.take_error();
  select->bind_text(1, account_uuid);
  Result<bool> row = select->step("reading a backup");
  if (!row.ok()) return row.take_error();
  if (!*row) return std::optional<Backup>();
  Backup backup;
  backup.account_uuid = select->column_text(0);
  backup.access_key_record = select->column_blob(1);
  backup.data = select->column_blob(2);
  backup.max_tries = static_cast<int>(select->column_int64(3));
  backup.tries_remaining = static_cast<int>(select->column_int64(4));
  backup.exposed = select->column_int64(5) != 0;
  backup.updated_at = select->column_int64(6);
  return std::optional<Backup>(std::move(backup));
}

Status delete_backup(SqliteConnection& connection, const std::string& account_uuid) {
  auto remove = connection.prepare(kDeleteBackup);
  if (!remove.ok()) return remove.take_error();
  remove->bind_text(1, account_uuid);
  Result<int> removed = remove->run("deleting a backup");
  if (!removed.ok()) return removed.take_error();
  return {};
}

}  // namespace

Status SqliteBackupStore::put(const Backup& backup) {
  return database_.write([&backup](SqliteConnection& connection) -> Status {
    auto upsert = connection.prepare(kUpsertBackup);
    if (!upsert.ok()) return upsert.take_error();
    upsert->bind_text(1, backup.account_uuid);
    upsert->bind_blob(2, backup.access_key_record);
    upsert->bind_blob(3, backup.data);
    upsert->bind_int64(4, backup.max_tries);
    upsert->bind_int64(5, backup.tries_remaining);
    upsert->bind_int64(6, backup.exposed ? 1 : 0);
    upsert->bind_int64(7, backup.updated_at);
    Result<int> stored = upsert->run("storing a backup");
    if (!stored.ok()) return stored.take_error();
    return {};
  });
}

Result<std::optional<Backup>> SqliteBackupStore::find(const std::string& account_uuid) {
  return database_.read_returning<std::optional<Backup>>(
      [&account_uuid](SqliteConnection& connection) { return load_backup(connection, account_uuid); });
}

Status SqliteBackupStore::expose(const std::string& account_uuid, const std::string& data) {
  return database_.write([&account_uuid, &data](SqliteConnection& connection) -> Status {
    Result<std::optional<Backup>> loaded = load_backup(connection, account_uuid);
    if (!loaded.ok()) return loaded.take_error();
    if (!loaded->has_value()) return make_error(ErrorCode::kNotFound, "no backup for the account");
    const Backup& backup = **loaded;
    if (backup.data != data) {
      return make_error(ErrorCode::kConflict, "the exposed data differs from the stored backup");
    }
    if (backup.exposed) return {};
    auto update = connection.prepare(kExposeBackup);
    if (!update.ok()) return update.take_error();
    update->bind_text(1, account_uuid);
    Result<int> changed = update->run("exposing a backup");
    if (!changed.ok()) return changed.take_error();
    return {};
  });
}

Result<RestoreAttempt> SqliteBackupStore::attempt_restore(
    const std::string& account_uuid, const std::function<bool(const std::string&)>& matches) {
  return database_.write_returning<RestoreAttempt>(
      [&account_uuid, &matches](SqliteConnection& connection) -> Result<RestoreAttempt> {
        RestoreAttempt attempt;
        Result<std::optional<Backup>> loaded = load_backup(connection, account_uuid);
        if (!loaded.ok()) return loaded.take_error();
        if (!loaded->has_value() || !(*loaded)->exposed) return attempt;  // kNotFound
        const Backup& backup = **loaded;

        int tries_remaining;
        if (matches(backup.access_key_record)) {
          attempt.outcome = RestoreAttempt::Outcome::kRestored;
          attempt.data = backup.data;
          tries_remaining = backup.max_tries;
        } else {
          tries_remaining = backup.tries_remaining - 1;
          if (tries_remaining <= 0) {
            LK_RETURN_IF_ERROR(delete_backup(connection, account_uuid));
            attempt.outcome = RestoreAttempt::Outcome::kErased;
            attempt.tries_remaining = 0;
            return attempt;
          }
          attempt.outcome = RestoreAttempt::Outcome::kMismatch;
        }
        attempt.tries_remaining = tries_remaining;
        auto update = connection.prepare(kSetTriesRemaining);
        if (!update.ok()) return update.take_error();
        update->bind_text(1, account_uuid);
        update->bind_int64(2, tries_remaining);
        Result<int> changed = update->run("counting a restore attempt");
        if (!changed.ok()) return changed.take_error();
        return attempt;
      });
}

Status SqliteBackupStore::erase(const std::string& account_uuid) {
  return database_.write(
      [&account_uuid](SqliteConnection& connection) -> Status { return delete_backup(connection, account_uuid); });
}

}  // namespace latchkey
