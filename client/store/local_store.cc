#include "client/store/local_store.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

namespace latchkey::client {
namespace {

Error store_error(sqlite3* db, std::string_view what) {
  return make_error(ErrorKind::kStore, "local store: " + std::string(what) + ": " + sqlite3_errmsg(db));
}

// One prepared statement; binds by position (1-based), steps, reads columns.
class Statement {
 public:
  Statement(sqlite3* db, const char* sql) : db_(db) { ok_ = sqlite3_prepare_v2(db, sql, -1, &stmt_, nullptr) == SQLITE_OK; }
  ~Statement() { sqlite3_finalize(stmt_); }
  bool ok() const { return ok_; }
  Statement& text(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& blob(int i, std::string_view v) {
    sqlite3_bind_blob(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    return *this;
  }
  Statement& integer(int i, std::int64_t v) {
    sqlite3_bind_int64(stmt_, i, v);
    return *this;
  }
  Statement& null(int i) {
    sqlite3_bind_null(stmt_, i);
    return *this;
  }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return sqlite3_step(stmt_); }
  std::string column_blob(int i) {
    const void* p = sqlite3_column_blob(stmt_, i);
    int n = sqlite3_column_bytes(stmt_, i);
    return p ? std::string(static_cast<const char*>(p), static_cast<std::size_t>(n)) : std::string();
  }
  std::int64_t column_int(int i) { return sqlite3_column_int64(stmt_, i); }
  bool column_null(int i) { return sqlite3_column_type(stmt_, i) == SQLITE_NULL; }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
  bool ok_ = false;
};

// Runs a write statement to completion.
Status run(sqlite3* db, Statement& st, std::string_view what) {
  if (!st.ok()) return store_error(db, what);
  int rc = st.step();
  if (rc != SQLITE_DONE && rc != SQLITE_ROW) return store_error(db, what);
  return ok_status();
}

// Reads the first column of the first row as bytes.
Result<std::optional<std::string>> first_blob(sqlite3* db, Statement& st, std::string_view what) {
  if (!st.ok()) return store_error(db, what);
  int rc = st.step();
  if (rc == SQLITE_DONE) return std::optional<std::string>();
  if (rc != SQLITE_ROW) return store_error(db, what);
  return std::optional<std::string>(st.column_blob(0));
}

const char* kSchema = R"sql(
CREATE TABLE IF NOT EXISTS settings (name TEXT PRIMARY KEY, value BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (name TEXT NOT NULL, device_id INTEGER NOT NULL, record BLOB NOT NULL,
  PRIMARY KEY (name, device_id));
CREATE TABLE IF NOT EXISTS prekeys (id INTEGER PRIMARY KEY, record BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS signed_prekeys (id INTEGER PRIMARY KEY, record BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS identities (uuid TEXT PRIMARY KEY, identity_key BLOB NOT NULL,
  first_seen_ms INTEGER NOT NULL, changed_ms INTEGER);
CREATE TABLE IF NOT EXISTS contacts (number TEXT PRIMARY KEY, uuid TEXT NOT NULL);
)sql";

// The account lives in settings under these names.
constexpr const char* kAccountFields[] = {"account.server",          "account.uuid",
                                          "account.number",          "account.device_id",
                                          "account.password",        "account.registration_id",
                                          "account.identity_public", "account.identity_private",
                                          "account.master_key"};

}  // namespace

Result<std::unique_ptr<LocalStore>> LocalStore::open(const std::string& path) {
  namespace fs = std::filesystem;
  fs::path file(path);
  if (file.has_parent_path() && !fs::exists(file.parent_path())) {
    std::error_code ec;
    fs::create_directories(file.parent_path(), ec);
    if (ec) return make_error(ErrorKind::kStore, "cannot create the folder of " + path + ": " + ec.message());
    ::chmod(file.parent_path().c_str(), 0700);
  }
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(ErrorKind::kStore, "cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) == 0 && (st.st_mode & 077) != 0) ::fchmod(fd, 0600);
  ::close(fd);

  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK) {
    Error e = make_error(ErrorKind::kStore, "cannot open the local store " + path + ": " +
                                                (db ? sqlite3_errmsg(db) : "out of memory"));
    sqlite3_close(db);
    return e;
  }
  sqlite3_busy_timeout(db, 5000);
  std::unique_ptr<LocalStore> store(new LocalStore(db));
  LK_RETURN_IF_ERROR(store->exec("PRAGMA journal_mode=DELETE; PRAGMA synchronous=FULL; PRAGMA secure_delete=ON;"));
  LK_RETURN_IF_ERROR(store->migrate());
  return store;
}

LocalStore::~LocalStore() { sqlite3_close(db_); }

Status LocalStore::exec(const char* sql) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql, nullptr, nullptr, &message) != SQLITE_OK) {
    std::string text = message ? message : "unknown error";
    sqlite3_free(message);
    return make_error(ErrorKind::kStore, "local store: " + text);
  }
  return ok_status();
}

Status LocalStore::migrate() { return exec(kSchema); }

// ---- settings and account ----

Result<std::optional<std::string>> LocalStore::setting(std::string_view name) {
  Statement st(db_, "SELECT value FROM settings WHERE name = ?");
  st.text(1, name);
  return first_blob(db_, st, "read setting");
}

Status LocalStore::set_setting(std::string_view name, std::string_view value) {
  Statement st(db_, "INSERT INTO settings (name, value) VALUES (?, ?) "
                    "ON CONFLICT (name) DO UPDATE SET value = excluded.value");
  st.text(1, name).blob(2, value);
  return run(db_, st, "write setting");
}

Status LocalStore::delete_setting(std::string_view name) {
  Statement st(db_, "DELETE FROM settings WHERE name = ?");
  st.text(1, name);
  return run(db_, st, "delete setting");
}

Result<std::optional<Account>> LocalStore::account() {
  std::string values[std::size(kAccountFields)];
  for (std::size_t i = 0; i < std::size(kAccountFields); ++i) {
    auto v = setting(kAccountFields[i]);
    if (!v.ok()) return v.take_error();
    if (!v->has_value()) {
      if (i == 1) return std::optional<Account>();  // no uuid: no account
      continue;
    }
    values[i] = **v;
  }
  Account a;
  a.server = values[0];
  a.uuid = values[1];
  a.number = values[2];
  a.device_id = std::atoi(values[3].c_str());
  a.password = values[4];
  a.registration_id = static_cast<std::uint32_t>(std::strtoul(values[5].c_str(), nullptr, 10));
  a.identity_public = values[6];
  a.identity_private = values[7];
  a.master_key = values[8];
  return std::optional<Account>(std::move(a));
}

Status LocalStore::save_account(const Account& a) {
  return transaction([&]() -> Status {
    const std::string values[] = {a.server,   a.uuid,
                                  a.number,   std::to_string(a.device_id),
                                  a.password, std::to_string(a.registration_id),
                                  a.identity_public, a.identity_private,
                                  a.master_key};
    for (std::size_t i = 0; i < std::size(kAccountFields); ++i) {
      LK_RETURN_IF_ERROR(set_setting(kAccountFields[i], values[i]));
    }
    return ok_status();
  });
}

Status LocalStore::reset_device_state() {
  return transaction([&]() -> Status {
    LK_RETURN_IF_ERROR(exec("DELETE FROM sessions; DELETE FROM prekeys; DELETE FROM signed_prekeys;"));
    LK_RETURN_IF_ERROR(exec("DELETE FROM settings WHERE name LIKE 'account.%' OR name LIKE 'keys.%'"));
    return ok_status();
  });
}

// ---- sessions ----

Result<std::optional<std::string>> LocalStore::load_session(std::string_view name, int device_id) {
  Statement st(db_, "SELECT record FROM sessions WHERE name = ? AND device_id = ?");
  st.text(1, name).integer(2, device_id);
  return first_blob(db_, st, "load session");
}

Status LocalStore::store_session(std::string_view name, int device_id, std::string_view record) {
  Statement st(db_, "INSERT INTO sessions (name, device_id, record) VALUES (?, ?, ?) "
                    "ON CONFLICT (name, device_id) DO UPDATE SET record = excluded.record");
  st.text(1, name).integer(2, device_id).blob(3, record);
  return run(db_, st, "store session");
}

Result<bool> LocalStore::contains_session(std::string_view name, int device_id) {
  auto r = load_session(name, device_id);
  if (!r.ok()) return r.take_error();
  return r->has_value();
}

Status LocalStore::delete_session(std::string_view name, int device_id) {
  Statement st(db_, "DELETE FROM sessions WHERE name = ? AND device_id = ?");
  st.text(1, name).integer(2, device_id);
  return run(db_, st, "delete session");
}

Status LocalStore::delete_all_sessions(std::string_view name) {
  Statement st(db_, "DELETE FROM sessions WHERE name = ?");
  st.text(1, name);
  return run(db_, st, "delete sessions");
}

Result<std::vector<int>> LocalStore::session_devices(std::string_view name) {
  Statement st(db_, "SELECT device_id FROM sessions WHERE name = ? ORDER BY device_id");
  if (!st.ok()) return store_error(db_, "list sessions");
  st.text(1, name);
  std::vector<int> out;
  for (;;) {
    int rc = st.step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return store_error(db_, "list sessions");
    out.push_back(static_cast<int>(st.column_int(0)));
  }
  return out;
}

// ---- prekeys ----

Result<std::optional<std::string>> LocalStore::load_prekey(std::uint32_t id) {
  Statement st(db_, "SELECT record FROM prekeys WHERE id = ?");
  st.integer(1, id);
  return first_blob(db_, st, "load prekey");
}

Status LocalStore::store_prekey(std::uint32_t id, std::string_view record) {
  Statement st(db_, "INSERT OR REPLACE INTO prekeys (id, record) VALUES (?, ?)");
  st.integer(1, id).blob(2, record);
  return run(db_, st, "store prekey");
}

Status LocalStore::remove_prekey(std::uint32_t id) {
  Statement st(db_, "DELETE FROM prekeys WHERE id = ?");
  st.integer(1, id);
  return run(db_, st, "remove prekey");
}

Result<std::optional<std::string>> LocalStore::load_signed_prekey(std::uint32_t id) {
  Statement st(db_, "SELECT record FROM signed_prekeys WHERE id = ?");
  st.integer(1, id);
  return first_blob(db_, st, "load signed prekey");
}

Status LocalStore::store_signed_prekey(std::uint32_t id, std::string_view record) {
  Statement st(db_, "INSERT OR REPLACE INTO signed_prekeys (id, record) VALUES (?, ?)");
  st.integer(1, id).blob(2, record);
  return run(db_, st, "store signed prekey");
}

Status LocalStore::remove_signed_prekey(std::uint32_t id) {
  Statement st(db_, "DELETE FROM signed_prekeys WHERE id = ?");
  st.integer(1, id);
  return run(db_, st, "remove signed prekey");
}

// ---- identities ----

Result<std::optional<IdentityRecord>> LocalStore::identity(std::string_view uuid) {
  Statement st(db_, "SELECT identity_key, first_seen_ms, changed_ms FROM identities WHERE uuid = ?");
  if (!st.ok()) return store_error(db_, "read identity");
  st.text(1, uuid);
  int rc = st.step();
  if (rc == SQLITE_DONE) return std::optional<IdentityRecord>();
  if (rc != SQLITE_ROW) return store_error(db_, "read identity");
  IdentityRecord r;
  r.uuid = std::string(uuid);
  r.key = st.column_blob(0);
  r.first_seen_ms = st.column_int(1);
  if (!st.column_null(2)) r.changed_ms = st.column_int(2);
  return std::optional<IdentityRecord>(std::move(r));
}

Result<bool> LocalStore::save_identity(std::string_view uuid, std::string_view key, std::int64_t now_ms) {
  auto existing = identity(uuid);
  if (!existing.ok()) return existing.take_error();
  if (!existing->has_value()) {
    Statement st(db_, "INSERT INTO identities (uuid, identity_key, first_seen_ms, changed_ms) VALUES (?, ?, ?, NULL)");
    st.text(1, uuid).blob(2, key).integer(3, now_ms);
    LK_RETURN_IF_ERROR(run(db_, st, "save identity"));
    return false;
  }
  if ((*existing)->key == key) return false;
  Statement st(db_, "UPDATE identities SET identity_key = ?, changed_ms = ? WHERE uuid = ?");
  st.blob(1, key).integer(2, now_ms).text(3, uuid);
  LK_RETURN_IF_ERROR(run(db_, st, "save identity"));
  return true;
}

Status LocalStore::accept_identity(std::string_view uuid) {
  Statement st(db_, "UPDATE identities SET changed_ms = NULL WHERE uuid = ?");
  st.text(1, uuid);
  return run(db_, st, "accept identity");
}

Result<std::vector<IdentityRecord>> LocalStore::changed_identities() {
  Statement st(db_, "SELECT uuid FROM identities WHERE changed_ms IS NOT NULL ORDER BY uuid");
  if (!st.ok()) return store_error(db_, "list identities");
  std::vector<std::string> uuids;
  for (;;) {
    int rc = st.step();
    if (rc == SQLITE_DONE) break;
    if (rc != SQLITE_ROW) return store_error(db_, "list identities");
    uuids.push_back(st.column_blob(0));
  }
  std::vector<IdentityRecord> out;
  for (const auto& u : uuids) {
    auto r = identity(u);
    if (!r.ok()) return r.take_error();
    if (r->has_value()) out.push_back(**r);
  }
  return out;
}

// ---- contacts ----

Result<std::optional<std::string>> LocalStore::uuid_for_number(std::string_view number) {
  Statement st(db_, "SELECT uuid FROM contacts WHERE number = ?");
  st.text(1, number);
  return first_blob(db_, st, "read contact");
}

Result<std::optional<std::string>> LocalStore::number_for_uuid(std::string_view uuid) {
  Statement st(db_, "SELECT number FROM contacts WHERE uuid = ? ORDER BY number LIMIT 1");
  st.text(1, uuid);
  return first_blob(db_, st, "read contact");
}

Status LocalStore::save_contact(std::string_view number, std::string_view uuid) {
  Statement st(db_, "INSERT INTO contacts (number, uuid) VALUES (?, ?) "
                    "ON CONFLICT (number) DO UPDATE SET uuid = excluded.uuid");
  st.text(1, number).text(2, uuid);
  return run(db_, st, "save contact");
}

}  // namespace latchkey::client
