// Durable staff accounts, their WebAuthn credentials, enrollment invites, sessions and single-use WebAuthn
// challenges. Plain data; the rules live in staff/staff_service.h. Secrets (invite and session tokens) are
// stored only as SHA-256 hashes; challenges are random and single use.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/error.h"

namespace latchkey {

struct StaffMember {
  std::string id;          // random uuid
  std::string name;        // unique, shown in the console and the audit log
  std::string role;        // staff/roles.h role_name
  EpochMillis created_at = 0;
  std::string created_by;  // audit actor of the inviter ("cli" for the first administrator)
  EpochMillis disabled_at = 0;  // 0: active
};

struct StaffCredential {
  std::string credential_id;    // raw WebAuthn credential id
  std::string staff_id;
  std::string public_key_cose;  // COSE_Key bytes
  std::uint32_t sign_count = 0;
  EpochMillis created_at = 0;
  EpochMillis last_used_at = 0;
};

struct StaffInvite {
  std::string token_hash;  // SHA-256 of the token in the enrollment link
  std::string name;
  std::string role;
  std::string invited_by;
  EpochMillis created_at = 0;
  EpochMillis expires_at = 0;
  EpochMillis used_at = 0;
};

struct StaffSession {
  std::string token_hash;  // SHA-256 of the cookie value
  std::string staff_id;
  EpochMillis created_at = 0;
  EpochMillis expires_at = 0;   // absolute end
  EpochMillis last_seen_at = 0;
};

// Thread-safe. Every call may block on storage I/O (worker threads only). Errors other than those listed are
// kInternal or kUnavailable.
class StaffStore {
 public:
  virtual ~StaffStore() = default;

  // kConflict if the name is taken by another staff member.
  virtual Status put_invite(const StaffInvite& invite) = 0;
  virtual Result<std::optional<StaffInvite>> find_invite(const std::string& token_hash) = 0;

  // In one transaction: marks the unused, unexpired invite used, creates the staff member and their first
  // credential. kForbidden if the invite is unknown, used or expired; kConflict if the name or the credential id
  // already exists.
  virtual Status enroll(const std::string& token_hash, const StaffMember& member, const StaffCredential& credential,
                        EpochMillis now) = 0;

  virtual Result<std::optional<StaffMember>> find_member(const std::string& staff_id) = 0;
  virtual Result<std::vector<StaffMember>> list_members() = 0;
  virtual Result<std::size_t> count_members() = 0;
  // Disables the member and ends their sessions. kNotFound if unknown.
  virtual Status disable_member(const std::string& staff_id, EpochMillis now) = 0;

  virtual Result<std::optional<StaffCredential>> find_credential(const std::string& credential_id) = 0;
  // Stores the new sign count if it is still greater than the stored one (or both are 0); kConflict otherwise
  // (a concurrent assertion with the same or a later counter won).
  virtual Status update_sign_count(const std::string& credential_id, std::uint32_t sign_count, EpochMillis now) = 0;

  // Stores a challenge for `purpose` ("enroll" or "sign_in") and `subject` (invite token hash, or empty).
  // Also drops expired challenges.
  virtual Status put_challenge(const std::string& challenge, const std::string& purpose, const std::string& subject,
                               EpochMillis expires_at, EpochMillis now) = 0;
  // Deletes the challenge and answers whether it existed unexpired with this purpose and subject (single use:
  // a second call answers false).
  virtual Result<bool> consume_challenge(const std::string& challenge, const std::string& purpose,
                                         const std::string& subject, EpochMillis now) = 0;

  virtual Status put_session(const StaffSession& session) = 0;
  // The live session (unexpired, idle for less than `idle_timeout`, member not disabled), with last_seen_at moved
  // to `now`; nullopt otherwise.
  virtual Result<std::optional<StaffSession>> touch_session(const std::string& token_hash, EpochMillis now,
                                                            std::int64_t idle_timeout_ms) = 0;
  virtual Status delete_session(const std::string& token_hash) = 0;
};

}  // namespace latchkey
