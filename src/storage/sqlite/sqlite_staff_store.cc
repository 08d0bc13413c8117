#include "storage/sqlite/sqlite_staff_store.h"

#include <string_view>

namespace latchkey {
namespace {

constexpr std::string_view kMemberColumns = "id, name, role, created_at, created_by, disabled_at";

StaffMember read_member(const SqliteStatement& s) {
  StaffMember m;
  m.id = s.column_text(0);
  m.name = s.column_text(1);
  m.role = s.column_text(2);
  m.created_at = s.column_int64(3);
  m.created_by = s.column_text(4);
  m.disabled_at = s.column_int64(5);
  return m;
}

Result<bool> name_taken(SqliteConnection& connection, const std::string& name) {
  auto select = connection.prepare("SELECT 1 FROM staff WHERE name = ?1");
  if (!select.ok()) return select.take_error();
  select->bind_text(1, name);
  return select->step("checking a staff name");
}

}  // namespace

Status SqliteStaffStore::put_invite(const StaffInvite& invite) {
  return database_.write([&](SqliteConnection& connection) -> Status {
    Result<bool> taken = name_taken(connection, invite.name);
    if (!taken.ok()) return taken.take_error();
    if (*taken) return make_error(ErrorCode::kConflict, "a staff member with this name exists");
    auto insert = connection.prepare(
        "INSERT INTO staff_invites (token_hash, name, role, invited_by, created_at, expires_at, used_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 0)");
    if (!insert.ok()) return insert.take_error();
    insert->bind_blob(1, invite.token_hash);
    insert->bind_text(2, invite.name);
    insert->bind_text(3, invite.role);
    insert->bind_text(4, invite.invited_by);
    insert->bind_int64(5, invite.created_at);
    insert->bind_int64(6, invite.expires_at);
    Result<int> ran = insert->run("storing a staff invite");
    if (!ran.ok()) return ran.take_error();
    return {};
  });
}

Result<std::optional<StaffInvite>> SqliteStaffStore::find_invite(const std::string& token_hash) {
  return database_.read_returning<std::optional<StaffInvite>>(
      [&](SqliteConnection& connection) -> Result<std::optional<StaffInvite>> {
        auto select = connection.prepare(
            "SELECT name, role, invited_by, created_at, expires_at, used_at FROM staff_invites WHERE token_hash = ?1");
        if (!select.ok()) return select.take_error();
        select->bind_blob(1, token_hash);
        Result<bool> row = select->step("reading a staff invite");
        if (!row.ok()) return row.take_error();
        if (!*row) return std::optional<StaffInvite>{};
        StaffInvite invite;
        invite.token_hash = token_hash;
        invite.name = select->column_text(0);
        invite.role = select->column_text(1);
        invite.invited_by = select->column_text(2);
        invite.created_at = select->column_int64(3);
        invite.expires_at = select->column_int64(4);
        invite.used_at = select->column_int64(5);
        return std::optional<StaffInvite>(std::move(invite));
      });
}

Status SqliteStaffStore::enroll(const std::string& token_hash, const StaffMember& member,
                                const StaffCredential& credential, EpochMillis now) {
  return database_.write([&](SqliteConnection& connection) -> Status {
    auto use = connection.prepare(
        "UPDATE staff_invites SET used_at = ?2 WHERE token_hash = ?1 AND used_at = 0 AND expires_at > ?2");
    if (!use.ok()) return use.take_error();
    use->bind_blob(1, token_hash);
    use->bind_int64(2, now);
    Result<int> used = use->run("using a staff invite");
    if (!used.ok()) return used.take_error();
    if (*used == 0) return make_error(ErrorCode::kForbidden, "the enrollment link is unknown, used or expired");

    Result<bool> taken = name_taken(connection, member.name);
    if (!taken.ok()) return taken.take_error();
    if (*taken) return make_error(ErrorCode::kConflict, "a staff member with this name exists");
    {
      auto exists = connection.prepare("SELECT 1 FROM staff_credentials WHERE credential_id = ?1");
      if (!exists.ok()) return exists.take_error();
      exists->bind_blob(1, credential.credential_id);
      Result<bool> row = exists->step("checking a credential id");
      if (!row.ok()) return row.take_error();
      if (*row) return make_error(ErrorCode::kConflict, "this credential is already enrolled");
    }
    auto insert = connection.prepare(
        "INSERT INTO staff (id, name, role, created_at, created_by, disabled_at) VALUES (?1, ?2, ?3, ?4, ?5, 0)");
    if (!insert.ok()) return insert.take_error();
    insert->bind_text(1, member.id);
    insert->bind_text(2, member.name);
    insert->bind_text(3, member.role);
    insert->bind_int64(4, member.created_at);
    insert->bind_text(5, member.created_by);
    Result<int> inserted = insert->run("creating a staff member");
    if (!inserted.ok()) return inserted.take_error();

    auto credential_insert = connection.prepare(
        "INSERT INTO staff_credentials (credential_id, staff_id, public_key, sign_count, created_at, last_used_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5, ?5)");
    if (!credential_insert.ok()) return credential_insert.take_error();
    credential_insert->bind_blob(1, credential.credential_id);
    credential_insert->bind_text(2, member.id);
    credential_insert->bind_blob(3, credential.public_key_cose);
    credential_insert->bind_int64(4, credential.sign_count);
    credential_insert->bind_int64(5, credential.created_at);
    Result<int> stored = credential_insert->run("storing a staff credential");
    if (!stored.ok()) return stored.take_error();
    return {};
  });
}

Result<std::optional<StaffMember>> SqliteStaffStore::find_member(const std::string& staff_id) {
  return database_.read_returning<std::optional<StaffMember>>(
      [&](SqliteConnection& connection) -> Result<std::optional<StaffMember>> {
        auto select = connection.prepare("SELECT " + std::string(kMemberColumns) + " FROM staff WHERE id = ?1");
        if (!select.ok()) return select.take_error();
        select->bind_text(1, staff_id);
        Result<bool> row = select->step("reading a staff member");
        if (!row.ok()) return row.take_error();
        if (!*row) return std::optional<StaffMember>{};
        return std::optional<StaffMember>(read_member(*select));
      });
}

Result<std::vector<StaffMember>> SqliteStaffStore::list_members() {
  return database_.read_returning<std::vector<StaffMember>>(
      [&](SqliteConnection& connection) -> Result<std::vector<StaffMember>> {
        auto select =
            connection.prepare("SELECT " + std::string(kMemberColumns) + " FROM staff ORDER BY created_at, name");
        if (!select.ok()) return select.take_error();
        std::vector<StaffMember> members;
        for (;;) {
          Result<bool> row = select->step("listing staff");
          if (!row.ok()) return row.take_error();
          if (!*row) break;
          members.push_back(read_member(*select));
        }
        return members;
      });
}

Result<std::size_t> SqliteStaffStore::count_members() {
  return database_.read_returning<std::size_t>([&](SqliteConnection& connection) -> Result<std::size_t> {
    auto select = connection.prepare("SELECT count(*) FROM staff WHERE disabled_at = 0");
    if (!select.ok()) return select.take_error();
    Result<bool> row = select->step("counting staff");
    if (!row.ok()) return row.take_error();
    return static_cast<std::size_t>(select->column_int64(0));
  });
}

Status SqliteStaffStore::disable_member(const std::string& staff_id, EpochMillis now) {
  return database_.write([&](SqliteConnection& connection) -> Status {
    auto update = connection.prepare("UPDATE staff SET disabled_at = ?2 WHERE id = ?1 AND disabled_at = 0");
    if (!update.ok()) return update.take_error();
    update->bind_text(1, staff_id);
    update->bind_int64(2, now);
    Result<int> changed = update->run("disabling a staff member");
    if (!changed.ok()) return changed.take_error();
    if (*changed == 0) {
      auto exists = connection.prepare("SELECT 1 FROM staff WHERE id = ?1");
      if (!exists.ok()) return exists.take_error();
      exists->bind_text(1, staff_id);
      Result<bool> row = exists->step("reading a staff member");
      if (!row.ok()) return row.take_error();
      if (!*row) return make_error(ErrorCode::kNotFound, "no such staff member");
    }
    auto end_sessions = connection.prepare("DELETE FROM staff_sessions WHERE staff_id = ?1");
    if (!end_sessions.ok()) return end_sessions.take_error();
    end_sessions->bind_text(1, staff_id);
    Result<int> ended = end_sessions->run("ending staff sessions");
    if (!ended.ok()) return ended.take_error();
    return {};
  });
}

Result<std::optional<StaffCredential>> SqliteStaffStore::find_credential(const std::string& credential_id) {
  return database_.read_returning<std::optional<StaffCredential>>(
      [&](SqliteConnection& connection) -> Result<std::optional<StaffCredential>> {
        auto select = connection.prepare(
            "SELECT staff_id, public_key, sign_count, created_at, last_used_at FROM staff_credentials "
            "WHERE credential_id = ?1");
        if (!select.ok()) return select.take_error();
        select->bind_blob(1, credential_id);
        Result<bool> row = select->step("reading a staff credential");
        if (!row.ok()) return row.take_error();
        if (!*row) return std::optional<StaffCredential>{};
        StaffCredential c;
        c.credential_id = credential_id;
        c.staff_id = select->column_text(0);
        c.public_key_cose = select->column_blob(1);
        c.sign_count = static_cast<std::uint32_t>(select->column_int64(2));
        c.created_at = select->column_int64(3);
        c.last_used_at = select->column_int64(4);
        return std::optional<StaffCredential>(std::move(c));
      });
}

Status SqliteStaffStore::update_sign_count(const std::string& credential_id, std::uint32_t sign_count,
                                           EpochMillis now) {
  return database_.write([&](SqliteConnection& connection) -> Status {
    auto update = connection.prepare(
        "UPDATE staff_credentials SET sign_count = ?2, last_used_at = ?3 WHERE credential_id = ?1 AND "
        "(sign_count < ?2 OR (sign_count = 0 AND ?2 = 0))");
    if (!update.ok()) return update.take_error();
    update->bind_blob(1, credential_id);
    update->bind_int64(2, sign_count);
    update->bind_int64(3, now);
    Result<int> changed = update->run("updating a sign count");
    if (!changed.ok()) return changed.take_error();
    if (*changed == 0) return make_error(ErrorCode::kConflict, "the sign count did not advance");
    return {};
  });
}

Status SqliteStaffStore::put_challenge(const std::string& challenge, const std::string& purpose,
                                       const std::string& subject, EpochMillis expires_at, EpochMillis now) {
  return database_.write([&](SqliteConnection& connection) -> Status {
    auto purge = connection.prepare("DELETE FROM webauthn_challenges WHERE expires_at <= ?1");
    if (!purge.ok()) return purge.take_error();
    purge->bind_int64(1, now);
    Result<int> purged = purge->run("dropping expired challenges");
    if (!purged.ok()) return purged.take_error();
    auto insert = connection.prepare(
        "INSERT INTO webauthn_challenges (challenge, purpose, subject, expires_at) VALUES (?1, ?2, ?3, ?4)");
    if (!insert.ok()) return insert.take_error();
    insert->bind_blob(1, challenge);
    insert->bind_text(2, purpose);
    insert->bind_blob(3, subject);
    insert->bind_int64(4, expires_at);
    Result<int> ran = insert->run("storing a challenge");
    if (!ran.ok()) return ran.take_error();
    return {};
  });
}

Result<bool> SqliteStaffStore::consume_challenge(const std::string& challenge, const std::string& purpose,
                                                 const std::string& subject, EpochMillis now) {
  return database_.write_returning<bool>([&](SqliteConnection& connection) -> Result<bool> {
    auto remove = connection.prepare(
        "DELETE FROM webauthn_challenges WHERE challenge = ?1 AND purpose = ?2 AND subject = ?3 AND expires_at > ?4");
    if (!remove.ok()) return remove.take_error();
    remove->bind_blob(1, challenge);
    remove->bind_text(2, purpose);
    remove->bind_blob(3, subject);
    remove->bind_int64(4, now);
    Result<int> removed = remove->run("consuming a challenge");
    if (!removed.ok()) return removed.take_error();
    return *removed == 1;
  });
}

Status SqliteStaffStore::put_session(const StaffSession& session) {
  return database_.write([&](SqliteConnection& connection) -> Status {
    auto insert = connection.prepare(
        "INSERT INTO staff_sessions (token_hash, staff_id, created_at, expires_at, last_seen_at) "
        "VALUES (?1, ?2, ?3, ?4, ?5)");
    if (!insert.ok()) return insert.take_error();
    insert->bind_blob(1, session.token_hash);
    insert->bind_text(2, session.staff_id);
    insert->bind_int64(3, session.created_at);
    insert->bind_int64(4, session.expires_at);
    insert->bind_int64(5, session.last_seen_at);
    Result<int> ran = insert->run("storing a staff session");
    if (!ran.ok()) return ran.take_error();
    return {};
  });
}

Result<std::optional<StaffSession>> SqliteStaffStore::touch_session(const std::string& token_hash, EpochMillis now,
                                                                    std::int64_t idle_timeout_ms) {
  return database_.write_returning<std::optional<StaffSession>>(
      [&](SqliteConnection& connection) -> Result<std::optional<StaffSession>> {
        auto select = connection.prepare(
            "SELECT s.staff_id, s.created_at, s.expires_at, s.last_seen_at FROM staff_sessions s "
            "JOIN staff m ON m.id = s.staff_id WHERE s.token_hash = ?1 AND m.disabled_at = 0");
        if (!select.ok()) return select.take_error();
        select->bind_blob(1, token_hash);
        Result<bool> row = select->step("reading a staff session");
        if (!row.ok()) return row.take_error();
        if (!*row) return std::optional<StaffSession>{};
        StaffSession session;
        session.token_hash = token_hash;
        session.staff_id = select->column_text(0);
        session.created_at = select->column_int64(1);
        session.expires_at = select->column_int64(2);
        session.last_seen_at = select->column_int64(3);
        const bool live = session.expires_at > now && session.last_seen_at + idle_timeout_ms > now;
        auto change = connection.prepare(live ? "UPDATE staff_sessions SET last_seen_at = ?2 WHERE token_hash = ?1"
                                              : "DELETE FROM staff_sessions WHERE token_hash = ?1 AND ?2 = ?2");
        if (!change.ok()) return change.take_error();
        change->bind_blob(1, token_hash);
        change->bind_int64(2, now);
        Result<int> changed = change->run("touching a staff session");
        if (!changed.ok()) return changed.take_error();
        if (!live) return std::optional<StaffSession>{};
        session.last_seen_at = now;
        return std::optional<StaffSession>(std::move(session));
      });
}

Status SqliteStaffStore::delete_session(const std::string& token_hash) {
  return database_.write([&](SqliteConnection& connection) -> Status {
    auto remove = connection.prepare("DELETE FROM staff_sessions WHERE token_hash = ?1");
    if (!remove.ok()) return remove.take_error();
    remove->bind_blob(1, token_hash);
    Result<int> ran = remove->run("ending a staff session");
    if (!ran.ok()) return ran.take_error();
    return {};
  });
}

}  // namespace latchkey
