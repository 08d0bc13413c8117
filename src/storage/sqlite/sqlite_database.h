// One SQLite database file: its connections, its schema migrations and the group-committing writer.
// The stores in this folder express every query as a closure run on a connection handed out here.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/config.h"
#include "core/error.h"
#include "metrics/metrics.h"

struct sqlite3;
struct sqlite3_stmt;

namespace latchkey {

// The Error for a failed SQLite call: kUnavailable for SQLITE_BUSY and SQLITE_LOCKED (another process holds
// the lock past the busy timeout), kInternal otherwise. The message is "<what>: <SQLite's message>"; `what`
// must name the operation only, never a bound value.
Error sqlite_error(int result_code, sqlite3* db, std::string_view what);

// A prepared statement lent by a SqliteConnection. Resets and clears its bindings when destroyed, so it may
// be reused for the next call. Parameter indexes start at 1 and column indexes at 0, as in SQLite. Not
// thread-safe: used by the thread that holds its connection, and destroyed before the connection is returned.
class SqliteStatement {
 public:
  SqliteStatement(const SqliteStatement&) = delete;
  SqliteStatement& operator=(const SqliteStatement&) = delete;
  SqliteStatement(SqliteStatement&& other) noexcept;
  SqliteStatement& operator=(SqliteStatement&&) = delete;
  ~SqliteStatement();

  // Bindings copy their value. A failed binding is reported by the next step() or run().
  void bind_int64(int index, std::int64_t value);
  void bind_text(int index, std::string_view value);
  void bind_blob(int index, std::string_view value);  // an empty value is stored as a zero-length BLOB

  // Advances to the next row: true when a row is ready, false when the statement is done. `what` names the
  // operation in the error message.
  Result<bool> step(std::string_view what);

  // Steps to the end, ignoring rows; answers how many rows the statement changed.
  Result<int> run(std::string_view what);

  std::int64_t column_int64(int column) const;
  std::string column_text(int column) const;  // empty for NULL
  std::string column_blob(int column) const;  // empty for NULL

 private:
  friend class SqliteConnection;
  // `in_use` is the cache entry's flag to clear when done; nullptr for an uncached statement, which is
  // finalized instead.
  SqliteStatement(sqlite3_stmt* statement, sqlite3* db, bool* in_use);

  sqlite3_stmt* statement_;
  sqlite3* db_;
  bool* in_use_;
  int bind_result_;  // first failed sqlite3_bind_* result, or SQLITE_OK
};

// One connection, with its prepared statements cached by SQL text.
// Not thread-safe: one thread at a time (SqliteDatabase guarantees it by lending each connection to one
// caller).
class SqliteConnection {
 public:
  // Opens `path` (which must exist when read_only) with the given busy timeout. Errors: kInternal naming
  // path.
  // `vfs`: a registered VFS's name (nullptr: the default one).
  static Result<std::unique_ptr<SqliteConnection>> open(const std::string& path, bool read_only,
                                                        int busy_timeout_ms, const char* vfs = nullptr);
  SqliteConnection(const SqliteConnection&) = delete;
  SqliteConnection& operator=(const SqliteConnection&) = delete;
  ~SqliteConnection();  // finalizes the cached statements and closes

  // The cached statement for `sql` (one statement, parameters bound with ?NNN), prepared on first use. If the
  // cached one is still in use by the caller, a fresh uncached statement is answered.
  Result<SqliteStatement> prepare(std::string_view sql);

  // Prepares (cached) and runs one statement without parameters, e.g. "COMMIT".
  Status execute(std::string_view sql, std::string_view what);

  // Runs a script of several statements without parameters (migrations); never cached.
  Status execute_script(const std::string& sql, std::string_view what);

  // True while a transaction is open on this connection.
  bool in_transaction() const;

  sqlite3* handle() const { return db_; }

 private:
  struct CachedStatement {
    sqlite3_stmt* statement = nullptr;
    bool in_use = false;
  };
  struct SqlHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view sql) const { return std::hash<std::string_view>{}(sql); }
  };

  explicit SqliteConnection(sqlite3* db) : db_(db) {}

  sqlite3* db_;
  std::unordered_map<std::string, CachedStatement, SqlHash, std::equal_to<>> statements_;
};

// Counters of the writer, for tests, benchmarks and metrics.
struct SqliteWriterStats {
  std::uint64_t batches_committed = 0;  // transactions committed (one fsync each with synchronous=full)
  std::uint64_t writes_committed = 0;   // closures that succeeded and were committed
  std::uint64_t writes_failed = 0;      // closures answered with an error (their own or their batch's)
  std::uint64_t wal_syncs = 0;          // WAL fdatasyncs after commits (synchronous=full; one per group of batches)
};

// The writer's metrics, registered by SqliteDatabase::open when it is given a registry (docs/operations.md).
struct SqliteWriterMetrics {
  Histogram* wal_sync_seconds = nullptr;       // each fdatasync of the write-ahead log
  Histogram* batch_writes = nullptr;           // writes per committed transaction
  Histogram* durable_write_seconds = nullptr;  // a kSynced write, from queued to answered

  static SqliteWriterMetrics registered(MetricsRegistry& metrics);
};

// An open database file.
//
// Writes: one writer thread owns the only write connection. write() queues a closure and blocks the caller
// until the closure's batch is committed: the writer takes up to write_batch_max queued closures, runs them
// in one BEGIN IMMEDIATE transaction, each in its own SAVEPOINT (a closure that answers an error is rolled
// back alone and its caller gets that error), then COMMITs once. A closure queued as
// WriteKind::kChecksBeforeWriting runs without a savepoint (see there). An ok answer from write() therefore
// means durable (with synchronous=full, even across power loss; with normal, across a killed process).
//
// Durability with synchronous=full: the writer's COMMIT does not wait for the disk (its connection runs with
// synchronous=OFF); the WAL file is fdatasynced after each commit, and only then are the batch's callers
// answered, in commit order. When writes are waiting (or a sync is already running) a sync thread does it, so
// the writer runs the next batch while the disk syncs the previous ones, and one sync covers every batch
// committed before it started; otherwise the writer syncs itself (no thread hand-off on an idle server).
// While a sync runs, the writer keeps its batch's transaction open and adds the writes that arrive (up to
// write_batch_max), and commits once the sync is done: their callers could not be answered before the next
// sync anyway, and one commit per sync writes each hot page into the log once instead of once per commit. If
// a sync fails, that group's writers get kInternal and every later write is refused with kUnavailable until
// the process is restarted: after a failed fdatasync the kernel may have dropped the unwritten pages.
// Checkpoints (the thread's connection, and the writer's own past 4 x checkpoint_pages) run with
// synchronous=FULL: the WAL is synced before its pages are copied and the database file after, before the WAL
// may start over. Readers may see a batch that is committed and not yet synced: its writers have not been
// answered yet.
//
// Checkpoints: SQLite's automatic checkpoint is off. When a commit leaves at least checkpoint_pages in the
// WAL, a checkpoint thread with its own connection runs a PASSIVE checkpoint, concurrently with the writer.
// The WAL only starts over when a batch begins with all of it copied, which a busy writer never sees; so when
// a commit leaves 4 x checkpoint_pages, the writer itself copies what is left (little: the thread did the
// rest) before its next batch, which then starts the WAL from its beginning.
//
// Reads: read() lends a read-only connection from a pool of at most read_connections, opened on demand, and
// runs the closure inside one read transaction (a consistent snapshot), concurrently with the writer (WAL).
//
// Thread-safe: write(), read(), stats() and close() may be called from any number of threads at once.
// Closures must not call write() or read() themselves (the writer would wait for itself).
// How a write closure may fail, which decides how its changes are undone.
enum class WriteKind {
  // It may answer an error after changing rows: it runs in its own SAVEPOINT, and an error rolls back its
  // changes alone.
  kAny,
  // It answers an error only before its first change (it checks, then writes), so it runs without a
  // savepoint and SQLite journals no page copies for it. Should it answer an error after changing rows anyway
  // (a storage error midway), its changes cannot be undone alone: the whole batch is rolled back and every
  // closure in it gets kInternal. For the relay's hot writes.
  kChecksBeforeWriting,
};

// When a write's caller is answered.
enum class WriteDurability {
  kSynced,  // once its commit is on disk (with synchronous=full, after the WAL sync)
  // Once committed: visible to reads at once, on disk with the next sync. A power loss before that sync may
  // undo it (a killed process does not: the log is in the kernel's cache), and a failed sync does not fail
  // it. For writes nobody waits on the durability of (acknowledgements, whose loss means a redelivery); a
  // batch of only these costs no sync of its own.
  kCommitted,
};

class SqliteDatabase {
 public:
  // Runs on the writer's connection inside the batch transaction. An error rolls back this closure's changes.
  using WriteFunction = std::function<Status(SqliteConnection&)>;
  // Runs on a read-only connection inside a read transaction.
  using ReadFunction = std::function<Status(SqliteConnection&)>;

  // Creates the parent directory and the file (mode 0600) if missing, sets WAL, synchronous, foreign keys and
  // the busy timeout, applies missing migrations in one transaction and starts the writer.
  // Errors: kInternal naming the file, for a bad setting, a file that cannot be opened, a schema newer than
  // this build knows (refused without changes), or a failed migration (rolled back).
  // With `metrics`, the writer reports SqliteWriterMetrics there.
  static Result<std::unique_ptr<SqliteDatabase>> open(const StorageConfig& config,
                                                      MetricsRegistry* metrics = nullptr);

  SqliteDatabase(const SqliteDatabase&) = delete;
  SqliteDatabase& operator=(const SqliteDatabase&) = delete;
  ~SqliteDatabase();  // close()

  // Runs `function` in the next batch and answers once the batch is committed.
  // Errors: the closure's own error (its changes rolled back); kInternal if the batch could not be committed
  // (nothing in it was applied); kUnavailable after close() or when the file is locked by another process.
  Status write(WriteFunction function, WriteKind kind = WriteKind::kAny,
               WriteDurability durability = WriteDurability::kSynced);

  // As write(), without blocking: `done` is called once with the same answer, once the batch is durable: on the
  // writer thread or the sync thread (see above), in commit order; or at once, on the calling thread, after
  // close(). `done` must be quick and must not call write() or read(); hand longer work on.
  void write_async(WriteFunction function, std::function<void(Status)> done, WriteKind kind = WriteKind::kAny,
                   WriteDurability durability = WriteDurability::kSynced);

  // As write(), for a closure that answers a value.
  template <class T>
  Result<T> write_returning(const std::function<Result<T>(SqliteConnection&)>& function,
                            WriteKind kind = WriteKind::kAny);

  // Runs `function` on a read-only connection. Errors: the closure's own; kUnavailable after close().
  Status read(const ReadFunction& function);

  template <class T>
  Result<T> read_returning(const std::function<Result<T>(SqliteConnection&)>& function);

  // Completes every write already queued, waits for reads in progress, then closes every connection.
  // Idempotent. Later write() and read() calls fail with kUnavailable.
  void close();

  // The newest migration applied to the file, and the newest this build knows.
  int schema_version() const { return schema_version_; }
  static int latest_schema_version();

  SqliteWriterStats stats() const;

  // Checkpoints completed (by the checkpoint thread, and by the writer past 4 x checkpoint_pages).
  std::uint64_t checkpoints() const;

  // Writes queued and not yet taken by the writer (for tests that need several writes in one batch).
  std::size_t queued_writes() const;

  const std::string& path() const { return path_; }

 private:
  struct PendingWrite {
    WriteFunction function;
    std::function<void(Status)> done;
    WriteKind kind = WriteKind::kAny;
    WriteDurability durability = WriteDurability::kSynced;
    std::chrono::steady_clock::time_point queued_at{};  // set only when durable_write_seconds is reported
  };

  SqliteDatabase(const StorageConfig& config, std::unique_ptr<SqliteConnection> writer_connection,
                 std::unique_ptr<SqliteConnection> checkpoint_connection, int schema_version,
                 SqliteWriterMetrics metrics);

  // A committed (or failed) batch waiting to be answered: its callbacks and their answers.
  struct CommittedBatch {
    std::vector<std::function<void(Status)>> done;
    std::vector<Status> results;
    std::vector<std::chrono::steady_clock::time_point> synced_queued_at;  // kSynced writes, with metrics only
    bool committed = false;  // false: nothing was written, no sync needed
  };

  void run_writer();
  void commit_batch(std::vector<PendingWrite>& batch);
  // Runs batch[from..] in the open transaction; sets batch_error when the whole batch is lost.
  void run_writes(std::vector<PendingWrite>& batch, std::size_t from, std::vector<Status>& results,
                  std::optional<Error>& batch_error);
  void take_queued(std::vector<PendingWrite>& batch);      // with queue_mutex_ held, up to write_batch_max
  bool sync_running();                                     // a sync is running or batches wait for one
  bool hold_open(const std::vector<PendingWrite>& batch);  // keep the transaction open for more writes
  static bool wants_sync(const std::vector<PendingWrite>& batch);  // a kSynced write is in it
  void run_syncer();
  Status sync_wal();  // fdatasync of the WAL file (and, the first time, of its directory)
  void answer(CommittedBatch& batch, const Status& synced);  // in order; a failed sync fails the committed
  void checkpoint_in_writer();
  void run_checkpointer();
  bool checkpoint_due() const;  // with checkpoint_mutex_ held
  static int on_wal_commit(void* self, sqlite3* db, const char* name, int pages);

  Result<std::unique_ptr<SqliteConnection>> acquire_reader();
  void release_reader(std::unique_ptr<SqliteConnection> connection, bool healthy);

  const std::string path_;
  const int busy_timeout_ms_;
  const std::size_t write_batch_max_;
  const int read_connections_max_;
  const int read_cache_kib_;
  const int schema_version_;
  const SqliteWriterMetrics metrics_;

  // Owned by the writer thread once it runs (and by close() after joining it).
  std::unique_ptr<SqliteConnection> writer_connection_;
  std::thread writer_;
  bool writer_checkpoint_due_ = false;  // set by on_wal_commit during a COMMIT; writer thread only

  // The sync thread (synchronous=full only).
  const bool sync_thread_;
  std::thread syncer_;
  std::mutex sync_mutex_;
  std::condition_variable sync_changed_;
  std::deque<CommittedBatch> sync_queue_;  // guarded by sync_mutex_
  bool sync_closed_ = false;               // guarded by sync_mutex_
  bool sync_busy_ = false;                 // the sync thread is syncing or answering; guarded by sync_mutex_
  int wal_fd_ = -1;                        // the log, opened by the first sync_wal(); closed by close()
  std::atomic<bool> directory_synced_{false};
  std::atomic<bool> sync_failed_{false};  // a sync failed: every later write is refused (kUnavailable)

  mutable std::mutex queue_mutex_;
  std::condition_variable queue_changed_;
  std::deque<PendingWrite> queue_;  // guarded by queue_mutex_
  bool writes_closed_ = false;      // guarded by queue_mutex_
  SqliteWriterStats stats_;         // guarded by queue_mutex_

  // The checkpoint thread and its connection (opened by the constructor's caller, owned by the thread).
  const int checkpoint_pages_;
  std::unique_ptr<SqliteConnection> checkpoint_connection_;
  std::thread checkpointer_;
  mutable std::mutex checkpoint_mutex_;
  std::condition_variable checkpoint_wanted_;
  int wal_pages_ = 0;                 // frames in the log after the last commit; guarded by checkpoint_mutex_
  int checkpointed_at_ = 0;           // frames in the log at the last checkpoint; guarded by checkpoint_mutex_
  bool checkpoint_closed_ = false;    // guarded by checkpoint_mutex_
  std::uint64_t checkpoints_ = 0;     // guarded by checkpoint_mutex_

  std::mutex readers_mutex_;
  std::condition_variable readers_changed_;
  std::vector<std::unique_ptr<SqliteConnection>> idle_readers_;  // guarded by readers_mutex_
  int open_readers_ = 0;       // idle + lent + being opened; guarded by readers_mutex_
  int lent_readers_ = 0;       // guarded by readers_mutex_
  bool reads_closed_ = false;  // guarded by readers_mutex_

  std::mutex close_mutex_;  // serializes close()
};

template <class T>
Result<T> SqliteDatabase::write_returning(const std::function<Result<T>(SqliteConnection&)>& function,
                                          WriteKind kind) {
  std::optional<T> value;  // set by the writer thread; read after write() returned (happens-after)
  Status status = write(
      [&function, &value](SqliteConnection& connection) -> Status {
        Result<T> result = function(connection);
        if (!result.ok()) return result.take_error();
        value = std::move(result).value();
        return {};
      },
      kind);
  if (!status.ok()) return status.take_error();
  return std::move(*value);
}

template <class T>
Result<T> SqliteDatabase::read_returning(const std::function<Result<T>(SqliteConnection&)>& function) {
  std::optional<T> value;
  Status status = read([&function, &value](SqliteConnection& connection) -> Status {
    Result<T> result = function(connection);
    if (!result.ok()) return result.take_error();
    value = std::move(result).value();
    return {};
  });
  if (!status.ok()) return status.take_error();
  return std::move(*value);
}

}  // namespace latchkey
