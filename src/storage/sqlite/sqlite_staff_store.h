// StaffStore on a SqliteDatabase (tables staff, staff_credentials, staff_invites, staff_sessions and
// webauthn_challenges of migration 7).
#pragma once

#include "storage/sqlite/sqlite_database.h"
#include "storage/staff_store.h"

namespace latchkey {

// Thread-safe.
class SqliteStaffStore final : public StaffStore {
 public:
  explicit SqliteStaffStore(SqliteDatabase& database) : database_(database) {}

  Status put_invite(const StaffInvite& invite) override;
  Result<std::optional<StaffInvite>> find_invite(const std::string& token_hash) override;
  Status enroll(const std::string& token_hash, const StaffMember& member, const StaffCredential& credential,
                EpochMillis now) override;
  Result<std::optional<StaffMember>> find_member(const std::string& staff_id) override;
  Result<std::vector<StaffMember>> list_members() override;
  Result<std::size_t> count_members() override;
  Status disable_member(const std::string& staff_id, EpochMillis now) override;
  Result<std::optional<StaffCredential>> find_credential(const std::string& credential_id) override;
  Status update_sign_count(const std::string& credential_id, std::uint32_t sign_count, EpochMillis now) override;
  Status put_challenge(const std::string& challenge, const std::string& purpose, const std::string& subject,
                       EpochMillis expires_at, EpochMillis now) override;
  Result<bool> consume_challenge(const std::string& challenge, const std::string& purpose, const std::string& subject,
                                 EpochMillis now) override;
  Status put_session(const StaffSession& session) override;
  Result<std::optional<StaffSession>> touch_session(const std::string& token_hash, EpochMillis now,
                                                    std::int64_t idle_timeout_ms) override;
  Status delete_session(const std::string& token_hash) override;

 private:
  SqliteDatabase& database_;
};

}  // namespace latchkey
