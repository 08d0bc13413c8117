#include "storage/sqlite/sqlite_session_store.h"

#include <string_view>

namespace latchkey {
namespace {

// Parameters ?1 and ?2 are the id and the version; ?3 to ?19 the other fields in the order of bind_fields.
constexpr std::string_view kInsert =
    "INSERT INTO verification_sessions (id, version, number, country_code, created_at, expires_at, "
    "pow_challenge, pow_bits, pow_passed, code_hash, code_expires_at, code_attempts, sms_sent, calls_made, "
    "next_sms_at, next_call_at, last_provider, verified_at, consumed_at) "
    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19)";

constexpr std::string_view kUpdate =
    "UPDATE verification_sessions SET version = ?2 + 1, number = ?3, country_code = ?4, created_at = ?5, "
    "expires_at = ?6, pow_challenge = ?7, pow_bits = ?8, pow_passed = ?9, code_hash = ?10, "
    "code_expires_at = ?11, code_attempts = ?12, sms_sent = ?13, calls_made = ?14, next_sms_at = ?15, "
    "next_call_at = ?16, last_provider = ?17, verified_at = ?18, consumed_at = ?19 "
    "WHERE id = ?1 AND version = ?2";

constexpr std::string_view kExists = "SELECT 1 FROM verification_sessions WHERE id = ?1";

// Columns in the order of the insert's parameters, so column i is parameter i + 1.
constexpr std::string_view kSelect =
    "SELECT id, version, number, country_code, created_at, expires_at, pow_challenge, pow_bits, pow_passed, "
    "code_hash, code_expires_at, code_attempts, sms_sent, calls_made, next_sms_at, next_call_at, "
    "last_provider, verified_at, consumed_at FROM verification_sessions WHERE id = ?1";

constexpr std::string_view kDeleteExpired =
    "DELETE FROM verification_sessions WHERE id IN (SELECT id FROM verification_sessions "
    "WHERE expires_at < ?1 ORDER BY expires_at LIMIT ?2)";

void bind_fields(SqliteStatement& statement, const VerificationSession& session) {
  statement.bind_text(1, session.id);
  statement.bind_int64(2, session.version);
  statement.bind_text(3, session.number);
  statement.bind_text(4, session.country_code);
  statement.bind_int64(5, session.created_at);
  statement.bind_int64(6, session.expires_at);
  statement.bind_blob(7, session.pow_challenge);
  statement.bind_int64(8, session.pow_bits);
  statement.bind_int64(9, session.pow_passed ? 1 : 0);
  statement.bind_blob(10, session.code_hash);
  statement.bind_int64(11, session.code_expires_at);
  statement.bind_int64(12, session.code_attempts);
  statement.bind_int64(13, session.sms_sent);
  statement.bind_int64(14, session.calls_made);
  statement.bind_int64(15, session.next_sms_at);
  statement.bind_int64(16, session.next_call_at);
  statement.bind_text(17, session.last_provider);
  statement.bind_int64(18, session.verified_at);
  statement.bind_int64(19, session.consumed_at);
}

VerificationSession read_row(const SqliteStatement& row) {
  VerificationSession session;
  session.id = row.column_text(0);
  session.version = row.column_int64(1);
  session.number = row.column_text(2);
  session.country_code = row.column_text(3);
  session.created_at = row.column_int64(4);
  session.expires_at = row.column_int64(5);
  session.pow_challenge = row.column_blob(6);
  session.pow_bits = static_cast<int>(row.column_int64(7));
  session.pow_passed = row.column_int64(8) != 0;
  session.code_hash = row.column_blob(9);
  session.code_expires_at = row.column_int64(10);
  session.code_attempts = static_cast<int>(row.column_int64(11));
  session.sms_sent = static_cast<int>(row.column_int64(12));
  session.calls_made = static_cast<int>(row.column_int64(13));
  session.next_sms_at = row.column_int64(14);
  session.next_call_at = row.column_int64(15);
  session.last_provider = row.column_text(16);
  session.verified_at = row.column_int64(17);
  session.consumed_at = row.column_int64(18);
  return session;
}

}  // namespace

Status SqliteSessionStore::insert(const VerificationSession& session) {
  return database_.write([&session](SqliteConnection& connection) -> Status {
    auto statement = connection.prepare(kInsert);
    if (!statement.ok()) return statement.take_error();
    bind_fields(*statement, session);
    Result<int> inserted = statement->run("inserting a verification session");
    if (!inserted.ok()) return inserted.take_error();
    return {};
  });
}

Result<std::optional<VerificationSession>> SqliteSessionStore::find(const std::string& id) {
  return database_.read_returning<std::optional<VerificationSession>>(
      [&id](SqliteConnection& connection) -> Result<std::optional<VerificationSession>> {
        auto statement = connection.prepare(kSelect);
        if (!statement.ok()) return statement.take_error();
        statement->bind_text(1, id);
        Result<bool> row = statement->step("reading a verification session");
        if (!row.ok()) return row.take_error();
        if (!*row) return std::optional<VerificationSession>();
        return std::optional<VerificationSession>(read_row(*statement));
      });
}

Status SqliteSessionStore::update(const VerificationSession& session) {
  return database_.write([&session](SqliteConnection& connection) -> Status {
    {
      auto statement = connection.prepare(kUpdate);
      if (!statement.ok()) return statement.take_error();
      bind_fields(*statement, session);
      Result<int> changed = statement->run("updating a verification session");
      if (!changed.ok()) return changed.take_error();
      if (*changed == 1) return {};
    }
    auto exists = connection.prepare(kExists);
    if (!exists.ok()) return exists.take_error();
    exists->bind_text(1, session.id);
    Result<bool> row = exists->step("checking a verification session");
    if (!row.ok()) return row.take_error();
    if (*row) return make_error(ErrorCode::kConflict, "the verification session was updated concurrently");
    return make_error(ErrorCode::kSessionNotFound, "no such verification session");
  });
}

Result<int> SqliteSessionStore::delete_expired(EpochMillis now, int limit) {
  if (limit <= 0) return 0;
  return database_.write_returning<int>([now, limit](SqliteConnection& connection) -> Result<int> {
    auto statement = connection.prepare(kDeleteExpired);
    if (!statement.ok()) return statement.take_error();
    statement->bind_int64(1, now);
    statement->bind_int64(2, limit);
    return statement->run("deleting expired verification sessions");
  });
}

Result<int> SqliteSessionStore::invalidate_by_provider(const std::string& provider, EpochMillis now) {
  return database_.write_returning<int>([&](SqliteConnection& connection) -> Result<int> {
    auto statement = connection.prepare(
        "UPDATE verification_sessions SET expires_at = ?2, code_hash = x'', code_expires_at = 0, "
        "version = version + 1 WHERE last_provider = ?1 AND consumed_at = 0 AND expires_at > ?2");
    if (!statement.ok()) return statement.take_error();
    statement->bind_text(1, provider);
    statement->bind_int64(2, now);
    return statement->run("ending sessions of a compromised provider");
  });
}

}  // namespace latchkey
