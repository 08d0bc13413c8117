#include "storage/sqlite/sqlite_database.h"

#include <pthread.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <set>
#include <utility>

#include "core/logging.h"
#include "storage/sqlite/log_write_gathering_vfs.h"

namespace latchkey {
namespace {

// One schema step. Versions are consecutive from 1; a migration is never edited once released, only followed
// by a new one.
struct Migration {
  int version;
  const char* sql;
};

constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE verification_sessions (
  id TEXT NOT NULL PRIMARY KEY,
  version INTEGER NOT NULL,
  number TEXT NOT NULL,
  country_code TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  pow_challenge BLOB NOT NULL,
  pow_bits INTEGER NOT NULL,
  pow_passed INTEGER NOT NULL,
  code_hash BLOB NOT NULL,
  code_expires_at INTEGER NOT NULL,
  code_attempts INTEGER NOT NULL,
  sms_sent INTEGER NOT NULL,
  calls_made INTEGER NOT NULL,
  next_sms_at INTEGER NOT NULL,
  next_call_at INTEGER NOT NULL,
  last_provider TEXT NOT NULL,
  verified_at INTEGER NOT NULL,
  consumed_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX verification_sessions_by_expires_at ON verification_sessions (expires_at);

CREATE TABLE accounts (
  uuid TEXT NOT NULL PRIMARY KEY,
  number TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE devices (
  account_uuid TEXT NOT NULL REFERENCES accounts (uuid) ON DELETE CASCADE,
  device_id INTEGER NOT NULL,
  password_hash BLOB NOT NULL,
  registration_id INTEGER NOT NULL,
  name BLOB NOT NULL,
  created_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  PRIMARY KEY (account_uuid, device_id)
) WITHOUT ROWID;
)sql"},
    {2, R"sql(
ALTER TABLE accounts ADD COLUMN registration_lock_record BLOB;

CREATE TABLE backups (
  account_uuid TEXT NOT NULL PRIMARY KEY REFERENCES accounts (uuid) ON DELETE CASCADE,
  access_key_record BLOB NOT NULL,
  data BLOB NOT NULL,
  max_tries INTEGER NOT NULL,
  tries_remaining INTEGER NOT NULL,
  exposed INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE notices (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  account_uuid TEXT NOT NULL REFERENCES accounts (uuid) ON DELETE CASCADE,
  kind TEXT NOT NULL,
  details_json TEXT NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE INDEX notices_by_account_uuid_id ON notices (account_uuid, id);
CREATE INDEX notices_by_created_at ON notices (created_at);
)sql"},
    {3, R"sql(
CREATE TABLE storage_manifests (
  account_uuid TEXT NOT NULL PRIMARY KEY REFERENCES accounts (uuid) ON DELETE CASCADE,
  version INTEGER NOT NULL,
  value BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE storage_items (
  account_uuid TEXT NOT NULL REFERENCES accounts (uuid) ON DELETE CASCADE,
  key BLOB NOT NULL,
  value BLOB NOT NULL,
  PRIMARY KEY (account_uuid, key)
) WITHOUT ROWID;
)sql"},
    {4, R"sql(
CREATE TABLE takeover_attempts (
  id TEXT NOT NULL PRIMARY KEY,
  account_uuid TEXT NOT NULL REFERENCES accounts (uuid) ON DELETE CASCADE,
  session_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  not_before INTEGER NOT NULL,
  state TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX takeover_attempts_by_account_session ON takeover_attempts (account_uuid, session_id);
)sql"},
    {5, R"sql(
ALTER TABLE accounts ADD COLUMN recovery_password_record BLOB;
)sql"},
    {6, R"sql(
ALTER TABLE accounts ADD COLUMN identity_key BLOB;
ALTER TABLE devices ADD COLUMN queued INTEGER NOT NULL DEFAULT 0;

CREATE TABLE signed_prekeys (
  account_uuid TEXT NOT NULL,
  device_id INTEGER NOT NULL,
  key_id INTEGER NOT NULL,
  public_key BLOB NOT NULL,
  signature BLOB NOT NULL,
  PRIMARY KEY (account_uuid, device_id),
  FOREIGN KEY (account_uuid, device_id) REFERENCES devices (account_uuid, device_id) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE prekeys (
  account_uuid TEXT NOT NULL,
  device_id INTEGER NOT NULL,
  key_id INTEGER NOT NULL,
  public_key BLOB NOT NULL,
  PRIMARY KEY (account_uuid, device_id, key_id),
  FOREIGN KEY (account_uuid, device_id) REFERENCES devices (account_uuid, device_id) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE messages (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  account_uuid TEXT NOT NULL,
  device_id INTEGER NOT NULL,
  source_uuid TEXT NOT NULL,
  source_device INTEGER NOT NULL,
  type INTEGER NOT NULL,
  timestamp INTEGER NOT NULL,
  server_timestamp INTEGER NOT NULL,
  content BLOB NOT NULL,
  FOREIGN KEY (account_uuid, device_id) REFERENCES devices (account_uuid, device_id) ON DELETE CASCADE
);
CREATE INDEX messages_by_device_id ON messages (account_uuid, device_id, id);

CREATE TABLE device_link_codes (
  code_hash BLOB NOT NULL PRIMARY KEY,
  account_uuid TEXT NOT NULL REFERENCES accounts (uuid) ON DELETE CASCADE,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX device_link_codes_by_account ON device_link_codes (account_uuid);
)sql"},
    {7, R"sql(
CREATE TABLE audit_log (
  seq INTEGER NOT NULL PRIMARY KEY,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  details TEXT NOT NULL,
  prev_hash BLOB NOT NULL,
  hash BLOB NOT NULL
);

CREATE TABLE staff (
  id TEXT NOT NULL PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  role TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  created_by TEXT NOT NULL,
  disabled_at INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE staff_credentials (
  credential_id BLOB NOT NULL PRIMARY KEY,
  staff_id TEXT NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
  public_key BLOB NOT NULL,
  sign_count INTEGER NOT NULL,
  created_at INTEGER NOT NULL,
  last_used_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX staff_credentials_by_staff ON staff_credentials (staff_id);

CREATE TABLE staff_invites (
  token_hash BLOB NOT NULL PRIMARY KEY,
  name TEXT NOT NULL,
  role TEXT NOT NULL,
  invited_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  used_at INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE staff_sessions (
  token_hash BLOB NOT NULL PRIMARY KEY,
  staff_id TEXT NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE TABLE webauthn_challenges (
  challenge BLOB NOT NULL PRIMARY KEY,
  purpose TEXT NOT NULL,
  subject TEXT NOT NULL,
  expires_at INTEGER NOT NULL
) WITHOUT ROWID;
)sql"},
    {8, R"sql(
CREATE TABLE registration_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  number TEXT NOT NULL,
  uuid TEXT NOT NULL,
  at INTEGER NOT NULL,
  provider TEXT NOT NULL,
  replaced_existing INTEGER NOT NULL,
  account_created_at INTEGER NOT NULL
);
CREATE INDEX registration_log_by_number ON registration_log (number, at);
CREATE INDEX registration_log_by_provider ON registration_log (provider, at);
CREATE INDEX registration_log_by_at ON registration_log (at);

CREATE TABLE provider_compromises (
  provider TEXT NOT NULL PRIMARY KEY,
  breach_started_at INTEGER NOT NULL,
  marked_at INTEGER NOT NULL,
  marked_by TEXT NOT NULL,
  note TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE incidents (
  id TEXT NOT NULL PRIMARY KEY,
  description TEXT NOT NULL,
  source TEXT NOT NULL,
  provider TEXT NOT NULL,
  window_start INTEGER NOT NULL,
  window_end INTEGER NOT NULL,
  state TEXT NOT NULL,
  created_by TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  approved_by TEXT NOT NULL DEFAULT '',
  approved_at INTEGER NOT NULL DEFAULT 0,
  started_at INTEGER NOT NULL DEFAULT 0,
  completed_at INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;

CREATE TABLE incident_targets (
  incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  number TEXT NOT NULL,
  uuid TEXT NOT NULL,
  has_account INTEGER NOT NULL,
  registered_in_window INTEGER NOT NULL,
  has_registration_lock INTEGER NOT NULL,
  language TEXT NOT NULL,
  unregistered_at INTEGER NOT NULL DEFAULT 0,
  notified_at INTEGER NOT NULL DEFAULT 0,
  notify_provider TEXT NOT NULL DEFAULT '',
  notify_message_id TEXT NOT NULL DEFAULT '',
  last_error TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (incident_id, number)
) WITHOUT ROWID;
)sql"},
    // The queue counts moved to the writer's connection (kWriterTemporarySchema): a counter in the device row
    // put one more page into the log for every destination of every commit.
    {9, R"sql(
ALTER TABLE devices DROP COLUMN queued;
)sql"},
};

// Created on the writer's connection at every open, in memory (temp_store = MEMORY), never in the file or its
// log. queue_counts holds the number of envelopes queued for each device that has any (SqliteMessageStore
// keeps it; a device without an entry has none queued). It is filled from the queue index at open (one scan
// of the index, proportional to the envelopes queued), and entries go when their queue empties, so it is as
// small as the queues. Being a table of the writer's connection, it is rolled back with the transaction or
// savepoint that changed it; the trigger forgets a device that is deleted, by cascade too.
constexpr std::string_view kWriterTemporarySchema = R"sql(
CREATE TEMP TABLE queue_counts (
  account_uuid TEXT NOT NULL,
  device_id INTEGER NOT NULL,
  queued INTEGER NOT NULL,
  PRIMARY KEY (account_uuid, device_id)
) WITHOUT ROWID;
CREATE TEMP TRIGGER queue_counts_forget_device AFTER DELETE ON main.devices BEGIN
  DELETE FROM queue_counts WHERE account_uuid = OLD.account_uuid AND device_id = OLD.device_id;
END;
INSERT INTO temp.queue_counts (account_uuid, device_id, queued)
  SELECT account_uuid, device_id, count(*) FROM main.messages GROUP BY account_uuid, device_id;
)sql";

constexpr std::string_view kSavepoint = "SAVEPOINT batch_write";
constexpr std::string_view kReleaseSavepoint = "RELEASE batch_write";
constexpr std::string_view kRollbackToSavepoint = "ROLLBACK TO batch_write";

std::int64_t now_epoch_millis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Error with_context(Error error, const std::string& context) {
  error.message = context + ": " + error.message;
  return error;
}

// Creates the parent directory and an empty file readable by the owner only, if they are missing. SQLite
// creates the -wal and -shm files with the mode of the database file.
Status prepare_file(const std::string& path) {
  std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (!parent.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(parent, ec);
    if (ec)
      return make_error(ErrorCode::kInternal, "creating directory " + parent.string() + ": " + ec.message());
  }
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd >= 0) {
    ::close(fd);
  } else if (errno != EEXIST) {
    return make_error(ErrorCode::kInternal, "creating " + path + ": " + std::strerror(errno));
  }
  return {};
}

// Applies the migrations the file lacks, all in one transaction. Answers the resulting schema version.
Result<int> migrate(SqliteConnection& connection, const std::string& path) {
  const int latest = SqliteDatabase::latest_schema_version();
  auto fail = [&](Error error) -> Result<int> {
    if (connection.in_transaction()) (void)connection.execute("ROLLBACK", "rolling back migrations");
    return with_context(std::move(error), path);
  };

  Status begun = connection.execute("BEGIN IMMEDIATE", "beginning migrations");
  if (!begun.ok()) return fail(begun.take_error());
  Status created = connection.execute(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER)",
      "creating schema_migrations");
  if (!created.ok()) return fail(created.take_error());

  std::set<int> applied;
  {
    auto select = connection.prepare("SELECT version FROM schema_migrations ORDER BY version");
    if (!select.ok()) return fail(select.take_error());
    for (;;) {
      Result<bool> row = select->step("reading schema_migrations");
      if (!row.ok()) return fail(row.take_error());
      if (!*row) break;
      applied.insert(static_cast<int>(select->column_int64(0)));
    }
  }
  if (!applied.empty() && *applied.rbegin() > latest) {
    return fail(make_error(ErrorCode::kInternal, "database schema version " +
                                                     std::to_string(*applied.rbegin()) +
                                                     " is newer than this build supports (" +
                                                     std::to_string(latest) + "); refusing to open it"));
  }

  for (const Migration& migration : kMigrations) {
    if (applied.count(migration.version) != 0) continue;
    const std::string what = "applying migration " + std::to_string(migration.version);
    Status ran = connection.execute_script(migration.sql, what);
    if (!ran.ok()) return fail(ran.take_error());
    auto insert = connection.prepare("INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)");
    if (!insert.ok()) return fail(insert.take_error());
    insert->bind_int64(1, migration.version);
    insert->bind_int64(2, now_epoch_millis());
    Result<int> inserted = insert->run("recording migration");
    if (!inserted.ok()) return fail(inserted.take_error());
    applied.insert(migration.version);
  }

  Status committed = connection.execute("COMMIT", "committing migrations");
  if (!committed.ok()) return fail(committed.take_error());
  return applied.empty() ? 0 : *applied.rbegin();
}

// Runs a closure, turning an escaped exception into an error so the writer survives it.
Status run_guarded(const std::function<Status(SqliteConnection&)>& function, SqliteConnection& connection) {
  try {
    return function(connection);
  } catch (const std::exception&) {
    return make_error(ErrorCode::kInternal, "storage operation failed with an exception");
  }
}

}  // namespace

Error sqlite_error(int result_code, sqlite3* db, std::string_view what) {
  const int primary = result_code & 0xff;
  const ErrorCode code =
      (primary == SQLITE_BUSY || primary == SQLITE_LOCKED) ? ErrorCode::kUnavailable : ErrorCode::kInternal;
  const char* detail = (db != nullptr && sqlite3_extended_errcode(db) == result_code)
                           ? sqlite3_errmsg(db)
                           : sqlite3_errstr(result_code);
  std::string message(what);
  message += ": ";
  message += detail;
  return make_error(code, std::move(message));
}

// ---- SqliteStatement ----

SqliteStatement::SqliteStatement(sqlite3_stmt* statement, sqlite3* db, bool* in_use)
    : statement_(statement), db_(db), in_use_(in_use), bind_result_(SQLITE_OK) {}

SqliteStatement::SqliteStatement(SqliteStatement&& other) noexcept
    : statement_(std::exchange(other.statement_, nullptr)),
      db_(other.db_),
      in_use_(std::exchange(other.in_use_, nullptr)),
      bind_result_(other.bind_result_) {}

SqliteStatement::~SqliteStatement() {
  if (statement_ == nullptr) return;
  if (in_use_ != nullptr) {
    sqlite3_reset(statement_);
    sqlite3_clear_bindings(statement_);
    *in_use_ = false;
  } else {
    sqlite3_finalize(statement_);
  }
}

void SqliteStatement::bind_int64(int index, std::int64_t value) {
  const int rc = sqlite3_bind_int64(statement_, index, value);
  if (rc != SQLITE_OK && bind_result_ == SQLITE_OK) bind_result_ = rc;
}

void SqliteStatement::bind_text(int index, std::string_view value) {
  const char* data = value.data() != nullptr ? value.data() : "";
  const int rc = sqlite3_bind_text(statement_, index, data, static_cast<int>(value.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK && bind_result_ == SQLITE_OK) bind_result_ = rc;
}

void SqliteStatement::bind_blob(int index, std::string_view value) {
  const int rc = value.empty() ? sqlite3_bind_zeroblob(statement_, index, 0)
                               : sqlite3_bind_blob(statement_, index, value.data(),
                                                   static_cast<int>(value.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK && bind_result_ == SQLITE_OK) bind_result_ = rc;
}

Result<bool> SqliteStatement::step(std::string_view what) {
  if (bind_result_ != SQLITE_OK) return sqlite_error(bind_result_, nullptr, what);
  const int rc = sqlite3_step(statement_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  return sqlite_error(rc, db_, what);
}

Result<int> SqliteStatement::run(std::string_view what) {
  for (;;) {
    Result<bool> row = step(what);
    if (!row.ok()) return row.take_error();
    if (!*row) break;
  }
  return sqlite3_changes(db_);
}

std::int64_t SqliteStatement::column_int64(int column) const {
  return sqlite3_column_int64(statement_, column);
}

std::string SqliteStatement::column_text(int column) const {
  const unsigned char* text = sqlite3_column_text(statement_, column);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text),
                     static_cast<std::size_t>(sqlite3_column_bytes(statement_, column)));
}

std::string SqliteStatement::column_blob(int column) const {
  const void* blob = sqlite3_column_blob(statement_, column);
  if (blob == nullptr) return {};
  return std::string(static_cast<const char*>(blob),
                     static_cast<std::size_t>(sqlite3_column_bytes(statement_, column)));
}

// ---- SqliteConnection ----

namespace {

// SQLite's memory statistics (sqlite3_status) take a process-wide mutex on every allocation it makes; nothing here
// reads them. Must run before the library initialises (the first open); later it is refused, harmlessly.
void configure_library_once() {
  static const bool configured = [] {
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
    return true;
  }();
  (void)configured;
}

}  // namespace

Result<std::unique_ptr<SqliteConnection>> SqliteConnection::open(const std::string& path, bool read_only,
                                                                 int busy_timeout_ms, const char* vfs) {
  configure_library_once();
  sqlite3* db = nullptr;
  const int flags =
      (read_only ? SQLITE_OPEN_READONLY : (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE)) | SQLITE_OPEN_NOMUTEX;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, vfs);
  if (rc != SQLITE_OK) {
    Error error = sqlite_error(rc, db, "opening " + path);
    error.code = ErrorCode::kInternal;
    sqlite3_close_v2(db);
    return error;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, busy_timeout_ms);
  return std::unique_ptr<SqliteConnection>(new SqliteConnection(db));
}

SqliteConnection::~SqliteConnection() {
  for (auto& [sql, cached] : statements_) sqlite3_finalize(cached.statement);
  sqlite3_close_v2(db_);
}

Result<SqliteStatement> SqliteConnection::prepare(std::string_view sql) {
  auto it = statements_.find(sql);
  if (it == statements_.end()) {
    sqlite3_stmt* statement = nullptr;
    const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()),
                                      SQLITE_PREPARE_PERSISTENT, &statement, nullptr);
    if (rc != SQLITE_OK) return sqlite_error(rc, db_, "preparing a statement");
    it = statements_.emplace(std::string(sql), CachedStatement{statement, false}).first;
  }
  if (it->second.in_use) {
    sqlite3_stmt* statement = nullptr;
    const int rc = sqlite3_prepare_v2(db_, sql.data(), static_cast<int>(sql.size()), &statement, nullptr);
    if (rc != SQLITE_OK) return sqlite_error(rc, db_, "preparing a statement");
    return SqliteStatement(statement, db_, nullptr);
  }
  it->second.in_use = true;
  return SqliteStatement(it->second.statement, db_, &it->second.in_use);
}

Status SqliteConnection::execute(std::string_view sql, std::string_view what) {
  auto statement = prepare(sql);
  if (!statement.ok()) return with_context(statement.take_error(), std::string(what));
  Result<int> ran = statement->run(what);
  if (!ran.ok()) return ran.take_error();
  return {};
}

Status SqliteConnection::execute_script(const std::string& sql, std::string_view what) {
  char* message = nullptr;
  const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
  if (rc == SQLITE_OK) return {};
  Error error = sqlite_error(rc, db_, what);
  if (message != nullptr) {
    error.message = std::string(what) + ": " + message;
    sqlite3_free(message);
  }
  return error;
}

bool SqliteConnection::in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }

// ---- SqliteDatabase ----

int SqliteDatabase::latest_schema_version() { return std::end(kMigrations)[-1].version; }

SqliteWriterMetrics SqliteWriterMetrics::registered(MetricsRegistry& metrics) {
  static const std::vector<double> kSyncBounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                                                  0.01,   0.025,   0.05,   0.1,   0.25,   1};
  static const std::vector<double> kBatchBounds = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096};
  SqliteWriterMetrics m;
  m.wal_sync_seconds = &metrics.histogram("latchkey_storage_wal_sync_seconds",
                                          "fdatasync of the SQLite write-ahead log", {}, kSyncBounds);
  m.batch_writes = &metrics.histogram("latchkey_storage_write_batch_writes",
                                      "Writes committed per SQLite transaction", {}, kBatchBounds);
  m.durable_write_seconds = &metrics.histogram(
      "latchkey_storage_durable_write_seconds",
      "A durable write, from queued to answered (its commit and the log sync after it)", {}, kSyncBounds);
  return m;
}

Result<std::unique_ptr<SqliteDatabase>> SqliteDatabase::open(const StorageConfig& config,
                                                             MetricsRegistry* metrics) {
  const std::string& path = config.sqlite_path;
  std::string synchronous;
  if (config.sqlite_synchronous == "full") {
    synchronous = "PRAGMA synchronous = FULL";
  } else if (config.sqlite_synchronous == "normal") {
    synchronous = "PRAGMA synchronous = NORMAL";
  } else {
    return make_error(ErrorCode::kInternal, "storage.sqlite_synchronous must be \"full\" or \"normal\"");
  }
  if (config.write_batch_max < 1) {
    return make_error(ErrorCode::kInternal, "storage.write_batch_max must be at least 1");
  }
  if (config.read_connections < 1) {
    return make_error(ErrorCode::kInternal, "storage.read_connections must be at least 1");
  }
  if (path.empty() || path == ":memory:") {
    return make_error(ErrorCode::kInternal, "storage.sqlite_path must name a file");
  }

  LK_RETURN_IF_ERROR(prepare_file(path));
  // The writer's connection gathers each commit's log writes into one (log_write_gathering_vfs.h).
  auto opened = SqliteConnection::open(path, /*read_only=*/false, config.sqlite_busy_timeout_ms,
                                       log_write_gathering_vfs());
  if (!opened.ok()) return opened.take_error();
  std::unique_ptr<SqliteConnection> connection = std::move(opened).value();

  auto fail = [&path](Error error) -> Error {
    error.code = ErrorCode::kInternal;
    return with_context(std::move(error), path);
  };
  {
    auto journal = connection->prepare("PRAGMA journal_mode = WAL");
    if (!journal.ok()) return fail(journal.take_error());
    Result<bool> row = journal->step("setting journal_mode");
    if (!row.ok()) return fail(row.take_error());
    if (!*row || journal->column_text(0) != "wal") {
      return fail(make_error(ErrorCode::kInternal, "setting journal_mode: the file refused WAL mode"));
    }
  }
  Status set = connection->execute(synchronous, "setting synchronous");
  if (!set.ok()) return fail(set.take_error());
  set = connection->execute("PRAGMA foreign_keys = ON", "enabling foreign keys");
  if (!set.ok()) return fail(set.take_error());
  set = connection->execute("PRAGMA cache_size = -" + std::to_string(config.write_cache_kib), "sizing the writer's cache");
  if (!set.ok()) return fail(set.take_error());
  set = connection->execute("PRAGMA temp_store = MEMORY", "keeping savepoint journals in memory");
  if (!set.ok()) return fail(set.take_error());

  Result<int> version = migrate(*connection, path);
  if (!version.ok()) {
    Error error = version.take_error();
    error.code = ErrorCode::kInternal;
    return error;
  }
  set = connection->execute_script(std::string(kWriterTemporarySchema),
                                   "creating the writer's temporary tables");
  if (!set.ok()) return fail(set.take_error());
  // Checkpoints run on their own thread and connection (see the class comment), never inside a commit.
  set = connection->execute("PRAGMA wal_autocheckpoint = 0", "turning off automatic checkpoints");
  if (!set.ok()) return fail(set.take_error());
  auto checkpointing = SqliteConnection::open(path, /*read_only=*/false, config.sqlite_busy_timeout_ms);
  if (!checkpointing.ok()) return fail(checkpointing.take_error());
  std::unique_ptr<SqliteConnection> checkpoint_connection = std::move(checkpointing).value();
  set = checkpoint_connection->execute(synchronous, "setting synchronous for checkpoints");
  if (!set.ok()) return fail(set.take_error());
  if (config.sqlite_synchronous == "full") {
    // Commits leave the syncing to the sync thread (see the class comment); migrations above were synced.
    set = connection->execute("PRAGMA synchronous = OFF", "handing commit syncs to the sync thread");
    if (!set.ok()) return fail(set.take_error());
  }
  return std::unique_ptr<SqliteDatabase>(
      new SqliteDatabase(config, std::move(connection), std::move(checkpoint_connection), *version,
                         metrics ? SqliteWriterMetrics::registered(*metrics) : SqliteWriterMetrics{}));
}

SqliteDatabase::SqliteDatabase(const StorageConfig& config,
                               std::unique_ptr<SqliteConnection> writer_connection,
                               std::unique_ptr<SqliteConnection> checkpoint_connection, int schema_version,
                               SqliteWriterMetrics metrics)
    : path_(config.sqlite_path),
      busy_timeout_ms_(config.sqlite_busy_timeout_ms),
      write_batch_max_(static_cast<std::size_t>(config.write_batch_max)),
      read_connections_max_(config.read_connections),
      read_cache_kib_(config.read_cache_kib),
      schema_version_(schema_version),
      metrics_(metrics),
      writer_connection_(std::move(writer_connection)),
      sync_thread_(config.sqlite_synchronous == "full"),
      checkpoint_pages_(config.checkpoint_pages),
      checkpoint_connection_(std::move(checkpoint_connection)) {
  sqlite3_wal_hook(writer_connection_->handle(), &SqliteDatabase::on_wal_commit, this);
  checkpointer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "lk-sql-ckpt");
    run_checkpointer();
  });
  if (sync_thread_) {
    syncer_ = std::thread([this] {
      pthread_setname_np(pthread_self(), "lk-sql-sync");
      run_syncer();
    });
  }
  writer_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "lk-sql-writer");  // shown by top -H and the benchmark
    run_writer();
  });
}

SqliteDatabase::~SqliteDatabase() { close(); }

Status SqliteDatabase::write(WriteFunction function, WriteKind kind, WriteDurability durability) {
  auto promise = std::make_shared<std::promise<Status>>();
  std::future<Status> done = promise->get_future();
  write_async(
      std::move(function), [promise](Status status) { promise->set_value(std::move(status)); }, kind,
      durability);
  return done.get();
}

void SqliteDatabase::write_async(WriteFunction function, std::function<void(Status)> done, WriteKind kind,
                                 WriteDurability durability) {
  {
    std::lock_guard lock(queue_mutex_);
    if (!writes_closed_) {
      queue_.push_back(PendingWrite{std::move(function), std::move(done), kind, durability});
      if (metrics_.durable_write_seconds && durability == WriteDurability::kSynced) {
        queue_.back().queued_at = std::chrono::steady_clock::now();
      }
      done = nullptr;
    }
  }
  if (done) {
    done(make_error(ErrorCode::kUnavailable, "storage is closed"));
    return;
  }
  queue_changed_.notify_one();
}

void SqliteDatabase::run_writer() {
  std::vector<PendingWrite> batch;
  batch.reserve(write_batch_max_);
  for (;;) {
    {
      std::unique_lock lock(queue_mutex_);
      queue_changed_.wait(lock, [this] { return !queue_.empty() || writes_closed_; });
      if (queue_.empty()) return;  // closed and drained
      take_queued(batch);
    }
    commit_batch(batch);
    batch.clear();
  }
}

void SqliteDatabase::take_queued(std::vector<PendingWrite>& batch) {
  while (!queue_.empty() && batch.size() < write_batch_max_) {
    batch.push_back(std::move(queue_.front()));
    queue_.pop_front();
  }
}

bool SqliteDatabase::sync_running() {
  std::lock_guard lock(sync_mutex_);
  return sync_busy_ || !sync_queue_.empty();
}

bool SqliteDatabase::wants_sync(const std::vector<PendingWrite>& batch) {
  return std::any_of(batch.begin(), batch.end(),
                     [](const PendingWrite& write) { return write.durability == WriteDurability::kSynced; });
}

bool SqliteDatabase::hold_open(const std::vector<PendingWrite>& batch) {
  return sync_thread_ && batch.size() < write_batch_max_ && wants_sync(batch) && sync_running();
}

void SqliteDatabase::run_writes(std::vector<PendingWrite>& batch, std::size_t from,
                                std::vector<Status>& results, std::optional<Error>& batch_error) {
  SqliteConnection& connection = *writer_connection_;
  for (std::size_t i = from; i < batch.size() && !batch_error; ++i) {
    const bool in_savepoint = batch[i].kind == WriteKind::kAny;
    if (in_savepoint) {
      Status opened = connection.execute(kSavepoint, "opening a savepoint");
      if (!opened.ok()) {
        batch_error = opened.take_error();
        break;
      }
    }
    const sqlite3_int64 changes_before = sqlite3_total_changes64(connection.handle());
    results[i] = run_guarded(batch[i].function, connection);
    if (!connection.in_transaction()) {
      // SQLite rolled the whole transaction back (I/O error, disk full, ...): the earlier closures are lost
      // too.
      batch_error = make_error(ErrorCode::kInternal, "the write transaction was rolled back by SQLite");
      break;
    }
    if (!in_savepoint) {
      if (!results[i].ok() && sqlite3_total_changes64(connection.handle()) != changes_before) {
        // It failed after changing rows, which only the whole transaction can undo.
        log::error("sqlite_write_failed_after_changes", {{"error", results[i].error().message}});
        batch_error =
            make_error(ErrorCode::kInternal, "a write failed after changing rows; its batch was rolled back");
      }
      continue;
    }
    if (!results[i].ok()) {
      Status rolled_back = connection.execute(kRollbackToSavepoint, "rolling back a savepoint");
      if (!rolled_back.ok()) {
        batch_error = rolled_back.take_error();
        break;
      }
    }
    Status released = connection.execute(kReleaseSavepoint, "releasing a savepoint");
    if (!released.ok()) batch_error = released.take_error();
  }
}

void SqliteDatabase::commit_batch(std::vector<PendingWrite>& batch) {
  SqliteConnection& connection = *writer_connection_;
  std::vector<Status> results;
  std::optional<Error> batch_error;  // set when nothing in the batch was committed

  const bool refused = sync_failed_.load();
  if (refused) {
    batch_error = make_error(ErrorCode::kUnavailable,
                             "storage stopped writing after a failed disk sync; check the disk and restart");
  } else {
    Status begun = connection.execute("BEGIN IMMEDIATE", "beginning a write transaction");
    if (!begun.ok()) batch_error = begun.take_error();
  }

  // Runs the batch's closures, and while a sync is running (its callers could not be answered before the sync
  // after it anyway) keeps the transaction open and takes more: one commit per sync rather than several, each
  // rewriting the same hot pages into the log.
  for (std::size_t from = 0;;) {
    results.resize(batch.size());
    run_writes(batch, from, results, batch_error);
    from = batch.size();
    if (batch_error || !hold_open(batch)) break;
    std::unique_lock lock(queue_mutex_);
    queue_changed_.wait(lock, [this] { return !queue_.empty() || writes_closed_ || !sync_running(); });
    take_queued(batch);
    if (batch.size() == from) break;  // the sync is done (or the writer is closing): commit
  }

  if (!batch_error) {
    Status committed = connection.execute("COMMIT", "committing a write batch");
    if (!committed.ok()) batch_error = committed.take_error();
  }
  if (!batch_error && log_bytes_gathered(connection.handle()) != 0) {
    // The commit frame always ends the gathering (see log_write_gathering_vfs.h): this SQLite writes its log
    // in a way the VFS does not know. Written now, before the sync; readers may have seen the commit early.
    log::error("sqlite_log_write_not_gathered",
               {{"bytes", std::to_string(log_bytes_gathered(connection.handle()))}});
    Status written = write_gathered_log(connection.handle());
    if (!written.ok()) batch_error = written.take_error();
  }
  if (batch_error) {
    if (connection.in_transaction()) (void)connection.execute("ROLLBACK", "rolling back a write batch");
    batch_error->code = refused ? ErrorCode::kUnavailable : ErrorCode::kInternal;
  }

  {
    std::lock_guard lock(queue_mutex_);
    if (batch_error) {
      stats_.writes_failed += batch.size();
    } else {
      ++stats_.batches_committed;
      if (metrics_.batch_writes) metrics_.batch_writes->observe(static_cast<double>(batch.size()));
      for (const Status& result : results) {
        if (result.ok()) {
          ++stats_.writes_committed;
        } else {
          ++stats_.writes_failed;
        }
      }
    }
  }
  CommittedBatch committed;
  committed.committed = !batch_error;
  committed.done.reserve(batch.size());
  committed.results.reserve(batch.size());
  const bool sync_wanted = wants_sync(batch);
  for (std::size_t i = 0; i < batch.size(); ++i) {
    if (metrics_.durable_write_seconds && batch[i].durability == WriteDurability::kSynced) {
      committed.synced_queued_at.push_back(batch[i].queued_at);
    }
    committed.done.push_back(std::move(batch[i].done));
    committed.results.push_back(batch_error ? Status(*batch_error) : std::move(results[i]));
  }
  if (!sync_thread_) {
    answer(committed, Status());  // synchronous=normal: COMMIT is as durable as it gets
  } else if (!sync_wanted) {
    // Only WriteDurability::kCommitted writes: answered now, synced by the next batch's sync. Their answers
    // may overtake older batches still waiting for theirs.
    answer(committed, Status());
  } else {
    // With no write waiting and nothing being synced, the writer syncs this batch itself: a hand-off would only
    // add a thread wake-up to the answer's latency, and there is nothing to overlap the sync with. Answers stay
    // in commit order: the sync thread has nothing older, and gets nothing newer while the writer is here.
    bool sync_here = queued_writes() == 0;
    {
      std::lock_guard lock(sync_mutex_);
      sync_here = sync_here && sync_queue_.empty() && !sync_busy_;
      if (!sync_here) sync_queue_.push_back(std::move(committed));
    }
    if (sync_here) {
      answer(committed, committed.committed ? sync_wal() : Status());
    } else {
      sync_changed_.notify_one();
    }
  }
  if (writer_checkpoint_due_) {
    writer_checkpoint_due_ = false;
    checkpoint_in_writer();
  }
}

void SqliteDatabase::run_syncer() {
  for (;;) {
    std::deque<CommittedBatch> taken;
    {
      std::unique_lock lock(sync_mutex_);
      sync_busy_ = false;
      sync_changed_.wait(lock, [this] { return !sync_queue_.empty() || sync_closed_; });
      if (sync_queue_.empty()) return;  // closed and drained
      taken.swap(sync_queue_);
      sync_busy_ = true;
    }
    // One fdatasync covers every batch committed before it started.
    bool any_committed = false;
    for (const CommittedBatch& b : taken) any_committed = any_committed || b.committed;
    Status synced;
    if (any_committed) synced = sync_wal();
    for (CommittedBatch& b : taken) answer(b, synced);
    bool idle = false;
    {
      std::lock_guard lock(sync_mutex_);
      sync_busy_ = false;
      idle = sync_queue_.empty();
    }
    if (idle) {
      // A writer holding its transaction open for this sync to end commits now. Taking the queue's lock
      // orders the notification after the writer's check of sync_running().
      { std::lock_guard lock(queue_mutex_); }
      queue_changed_.notify_one();
    }
  }
}

void SqliteDatabase::answer(CommittedBatch& batch, const Status& synced) {
  if (metrics_.durable_write_seconds && batch.committed && synced.ok()) {  // durable ones only
    const auto now = std::chrono::steady_clock::now();
    for (const auto& queued_at : batch.synced_queued_at) {
      metrics_.durable_write_seconds->observe(std::chrono::duration<double>(now - queued_at).count());
    }
  }
  for (std::size_t i = 0; i < batch.done.size(); ++i) {
    batch.done[i](batch.committed && !synced.ok() ? synced : std::move(batch.results[i]));
  }
}

Status SqliteDatabase::sync_wal() {
  // After a failed sync the kernel may have dropped the pages it could not write, and a later sync may succeed
  // without them: every later write is refused rather than acknowledged on top of a hole.
  auto fail = [this](const char* what, int error) -> Status {
    Error failed = make_error(ErrorCode::kInternal, std::string(what) + ": " + std::strerror(error));
    sync_failed_ = true;
    log::error("sqlite_wal_sync_failed", {{"error", failed.message}});
    return failed;
  };
  // Any descriptor of the file will do: fdatasync writes back the file's pages, whoever wrote them. SQLite keeps
  // the log open for as long as the database is (it truncates it, never replaces it), so the descriptor opened
  // by the first sync stays the log's until close(). Calls never overlap: the writer syncs only while the sync
  // thread has nothing to do.
  //
  // If the disk or an operator removes the log, SQLite goes on writing to the unlinked file, which a restart
  // will not find: once the log has no name left, no write is acknowledged.
  if (wal_fd_ < 0) {
    const std::string wal = path_ + "-wal";
    wal_fd_ = ::open(wal.c_str(), O_RDONLY | O_CLOEXEC);
    if (wal_fd_ < 0) return fail("opening the write-ahead log to sync it", errno);
  }
  const auto started = std::chrono::steady_clock::now();
  const int rc = ::fdatasync(wal_fd_);
  const int error = errno;
  if (metrics_.wal_sync_seconds) {
    metrics_.wal_sync_seconds->observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  }
  if (rc != 0) return fail("syncing the write-ahead log", error);
  struct stat log_status {};
  if (::fstat(wal_fd_, &log_status) != 0) return fail("checking the write-ahead log after its sync", errno);
  if (log_status.st_nlink == 0) return fail("checking the write-ahead log after its sync", ENOENT);
  if (!directory_synced_) {
    // The log was created by this process's first connection: its directory entry must be durable too.
    std::filesystem::path parent = std::filesystem::path(path_).parent_path();
    int dir = ::open(parent.empty() ? "." : parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return fail("opening the database's directory to sync it", errno);
    const int dir_rc = ::fsync(dir);
    const int dir_error = errno;
    ::close(dir);
    if (dir_rc != 0) return fail("syncing the database's directory", dir_error);
    directory_synced_ = true;
  }
  std::lock_guard lock(queue_mutex_);
  ++stats_.wal_syncs;
  return {};
}

// The writer copies what is left of the log (see on_wal_commit) with synchronous=FULL, whatever its commits use:
// the log is synced before its pages are copied and the database file after, before the log may start over.
void SqliteDatabase::checkpoint_in_writer() {
  SqliteConnection& connection = *writer_connection_;
  if (sync_thread_ && !connection.execute("PRAGMA synchronous = FULL", "syncing checkpoints").ok()) return;
  int log_pages = -1;
  (void)sqlite3_wal_checkpoint_v2(connection.handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log_pages, nullptr);
  if (sync_thread_) (void)connection.execute("PRAGMA synchronous = OFF", "handing commit syncs to the sync thread");
  if (log_pages < 0) return;  // not run (busy): the next commit asks again
  std::lock_guard lock(checkpoint_mutex_);
  ++checkpoints_;
  wal_pages_ = checkpointed_at_ = log_pages;
}

// The log's frame count keeps growing until the log starts over, and a busy writer lets it start over only every
// 4x checkpoint_pages (see on_wal_commit). Past the threshold, a checkpoint is therefore due once a quarter of the
// threshold was appended since the last one: not after every commit, each of which would cost two fsyncs that
// compete with the commits' own.
bool SqliteDatabase::checkpoint_due() const {
  return wal_pages_ >= checkpoint_pages_ && wal_pages_ - checkpointed_at_ >= std::max(1, checkpoint_pages_ / 4);
}

int SqliteDatabase::on_wal_commit(void* self, sqlite3* /*db*/, const char* /*name*/, int pages) {
  auto* database = static_cast<SqliteDatabase*>(self);
  if (pages >= 4 * database->checkpoint_pages_) {
    // The log only starts over when a batch begins with everything in it copied, which never happens while the
    // checkpoint thread chases a busy writer. So the writer finishes the copy itself right after this commit
    // (checkpoint_in_writer; the checkpoint thread has done most of it already), and its next batch starts the
    // log from the beginning.
    database->writer_checkpoint_due_ = true;
    return SQLITE_OK;
  }
  bool wanted = false;
  {
    std::lock_guard lock(database->checkpoint_mutex_);
    if (pages < database->checkpointed_at_) database->checkpointed_at_ = 0;  // the log started over
    database->wal_pages_ = pages;
    wanted = database->checkpoint_due();
  }
  if (wanted) database->checkpoint_wanted_.notify_one();
  return SQLITE_OK;
}

void SqliteDatabase::run_checkpointer() {
  for (;;) {
    {
      std::unique_lock lock(checkpoint_mutex_);
      checkpoint_wanted_.wait(lock, [this] { return checkpoint_closed_ || checkpoint_due(); });
      if (checkpoint_closed_) break;
      checkpointed_at_ = wal_pages_;  // commits meanwhile do not ask again
    }
    // PASSIVE copies what no reader still needs, without ever waiting for the writer.
    const int rc = sqlite3_wal_checkpoint_v2(checkpoint_connection_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE,
                                             nullptr, nullptr);
    if (rc == SQLITE_OK) {
      std::lock_guard lock(checkpoint_mutex_);
      ++checkpoints_;
    } else if (rc != SQLITE_BUSY) {
      log::warn("sqlite_checkpoint_failed",
                {{"error", sqlite_error(rc, checkpoint_connection_->handle(), "checkpointing").message}});
    }
  }
  checkpoint_connection_.reset();
}

std::uint64_t SqliteDatabase::checkpoints() const {
  std::lock_guard lock(checkpoint_mutex_);
  return checkpoints_;
}

Result<std::unique_ptr<SqliteConnection>> SqliteDatabase::acquire_reader() {
  std::unique_lock lock(readers_mutex_);
  readers_changed_.wait(lock, [this] {
    return reads_closed_ || !idle_readers_.empty() || open_readers_ < read_connections_max_;
  });
  if (reads_closed_) return make_error(ErrorCode::kUnavailable, "storage is closed");
  ++lent_readers_;
  if (!idle_readers_.empty()) {
    std::unique_ptr<SqliteConnection> connection = std::move(idle_readers_.back());
    idle_readers_.pop_back();
    return connection;
  }
  ++open_readers_;
  lock.unlock();
  auto opened = SqliteConnection::open(path_, /*read_only=*/true, busy_timeout_ms_);
  if (opened.ok()) {
    // A reader's page cache is dropped whenever another connection has committed since its last read, so with a
    // busy writer a large one mostly holds stale pages; the operating system's cache of the file serves re-reads.
    Status sized = (*opened)->execute("PRAGMA cache_size = -" + std::to_string(read_cache_kib_), "sizing a reader's cache");
    if (!sized.ok()) opened = sized.take_error();
  }
  if (!opened.ok()) {
    lock.lock();
    --open_readers_;
    --lent_readers_;
    lock.unlock();
    readers_changed_.notify_all();
  }
  return opened;
}

void SqliteDatabase::release_reader(std::unique_ptr<SqliteConnection> connection, bool healthy) {
  std::unique_ptr<SqliteConnection> discarded;
  {
    std::lock_guard lock(readers_mutex_);
    --lent_readers_;
    if (reads_closed_ || !healthy) {
      --open_readers_;
      discarded = std::move(connection);
    } else {
      idle_readers_.push_back(std::move(connection));
    }
  }
  readers_changed_.notify_all();
}

Status SqliteDatabase::read(const ReadFunction& function) {
  auto acquired = acquire_reader();
  if (!acquired.ok()) return acquired.take_error();
  std::unique_ptr<SqliteConnection> connection = std::move(acquired).value();

  Status result = connection->execute("BEGIN", "beginning a read transaction");
  if (result.ok()) result = run_guarded(function, *connection);
  bool healthy = true;
  if (connection->in_transaction()) {
    Status ended = connection->execute("COMMIT", "ending a read transaction");
    if (!ended.ok()) {
      (void)connection->execute("ROLLBACK", "rolling back a read transaction");
      healthy = !connection->in_transaction();
    }
  }
  release_reader(std::move(connection), healthy);
  return result;
}

void SqliteDatabase::close() {
  std::lock_guard close_lock(close_mutex_);
  {
    std::lock_guard lock(queue_mutex_);
    writes_closed_ = true;
  }
  queue_changed_.notify_all();
  if (writer_.joinable()) writer_.join();
  {
    std::lock_guard lock(sync_mutex_);
    sync_closed_ = true;
  }
  sync_changed_.notify_all();
  if (syncer_.joinable()) syncer_.join();  // answers every committed batch first
  if (wal_fd_ >= 0) {
    ::close(wal_fd_);
    wal_fd_ = -1;
  }
  {
    std::lock_guard lock(checkpoint_mutex_);
    checkpoint_closed_ = true;
  }
  checkpoint_wanted_.notify_all();
  if (checkpointer_.joinable()) checkpointer_.join();
  // The last connection to close checkpoints what is left and removes the log: with synchronous=FULL, so that
  // the database file is synced before the log goes.
  if (sync_thread_ && writer_connection_) (void)writer_connection_->execute("PRAGMA synchronous = FULL", "closing");
  writer_connection_.reset();

  std::vector<std::unique_ptr<SqliteConnection>> idle;
  {
    std::unique_lock lock(readers_mutex_);
    reads_closed_ = true;
    readers_changed_.notify_all();
    readers_changed_.wait(lock, [this] { return lent_readers_ == 0; });
    idle.swap(idle_readers_);
    open_readers_ -= static_cast<int>(idle.size());
  }
}

SqliteWriterStats SqliteDatabase::stats() const {
  std::lock_guard lock(queue_mutex_);
  return stats_;
}

std::size_t SqliteDatabase::queued_writes() const {
  std::lock_guard lock(queue_mutex_);
  return queue_.size();
}

}  // namespace latchkey
