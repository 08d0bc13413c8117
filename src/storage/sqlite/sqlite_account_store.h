// AccountStore on a SqliteDatabase: accounts (one row per number, with its Registration Lock record) and
// devices (keyed by account and device id). Devices, backups and notices are removed with their account by
// ON DELETE CASCADE; re-registration keeps the account row, so it keeps them.
#pragma once

#include "storage/account_store.h"
#include "storage/sqlite/sqlite_database.h"

namespace latchkey {

// Thread-safe (every call goes through SqliteDatabase). Writes are group-committed and durable when they
// answer ok; reads use the read-only pool and see one consistent snapshot per call. Errors besides those of
// AccountStore: kUnavailable once the database is closed or locked by another process, kInternal for any
// other SQLite failure (for example a new_uuid that already belongs to another number).
class SqliteAccountStore final : public AccountStore {
 public:
  // `database` is not owned and must outlive the store.
  explicit SqliteAccountStore(SqliteDatabase& database) : database_(database) {}

  // Runs as one write closure. The primary device is stored as given, except that a created_at or
  // last_seen_at of 0 is stored as `now`.
  Result<RegistrationRecord> create_or_replace(const std::string& number, const std::string& new_uuid,
                                               const Device& primary, EpochMillis now,
                                               const std::string& code_provider = "") override;
  Result<std::optional<Account>> find_by_uuid(const std::string& uuid) override;
  Result<std::optional<Account>> find_by_number(const std::string& number) override;
  Result<std::optional<Device>> find_device(const std::string& uuid, std::uint32_t device_id) override;
  Status touch_device(const std::string& uuid, std::uint32_t device_id, EpochMillis now) override;
  Status set_registration_lock(const std::string& uuid, const std::string& record) override;
  Status set_recovery_password(const std::string& uuid, const std::string& record) override;
  Status put_link_code(const std::string& uuid, const std::string& code_hash, EpochMillis expires_at) override;
  Result<LinkedDevice> link_device(const std::string& code_hash, const Device& device, int max_linked,
                                   EpochMillis now) override;
  Status remove_device(const std::string& uuid, std::uint32_t device_id) override;
  Status delete_account(const std::string& uuid) override;

 private:
  // Loads the account selected by `sql` (one parameter) and its devices ordered by id.
  Result<std::optional<Account>> find_account(std::string_view sql, const std::string& key);

  SqliteDatabase& database_;
};

}  // namespace latchkey
