// The log-write-gathering VFS: a commit's log frames reach the file in one write, at the commit frame; other
// connections see every committed row at once; nothing committed stays in memory when the process dies;
// large, spilled, rolled-back and synchronous=FULL transactions still come out whole.
#include "storage/sqlite/log_write_gathering_vfs.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>

#include "storage/test_storage.h"

namespace latchkey {
namespace {

class LogWriteGatheringTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fresh_test_dir("gather").string();
    std::filesystem::create_directories(dir_);
    path_ = dir_ + "/db.sqlite";
  }
  void TearDown() override {
    if (writer_) sqlite3_close_v2(writer_);
    if (reader_) sqlite3_close_v2(reader_);
    std::filesystem::remove_all(dir_);
  }

  // The writer goes through the VFS; `reader` uses the default one, as SqliteDatabase's readers do.
  sqlite3* open(const char* vfs) {
    sqlite3* db = nullptr;
    EXPECT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, vfs),
              SQLITE_OK);
    sqlite3_extended_result_codes(db, 1);
    return db;
  }
  void open_writer(const char* synchronous = "OFF") {
    writer_ = open(log_write_gathering_vfs());
    exec(writer_, "PRAGMA journal_mode = WAL");
    exec(writer_, std::string("PRAGMA synchronous = ") + synchronous);
    exec(writer_, "PRAGMA wal_autocheckpoint = 0");
    exec(writer_, "CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v BLOB NOT NULL)");
    exec(writer_, "CREATE INDEX IF NOT EXISTS t_by_v ON t (v)");
  }
  static void exec(sqlite3* db, const std::string& sql) {
    char* error = nullptr;
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &error);
    EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << (error ? error : sqlite3_errstr(rc));
    sqlite3_free(error);
  }
  static std::int64_t count(sqlite3* db, const std::string& sql = "SELECT count(*) FROM t") {
    sqlite3_stmt* statement = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, sql.c_str(), -1, &statement, nullptr), SQLITE_OK) << sqlite3_errmsg(db);
    std::int64_t n = -1;
    if (sqlite3_step(statement) == SQLITE_ROW) n = sqlite3_column_int64(statement, 0);
    sqlite3_finalize(statement);
    return n;
  }
  static std::string integrity(sqlite3* db) {
    sqlite3_stmt* statement = nullptr;
    EXPECT_EQ(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &statement, nullptr), SQLITE_OK);
    std::string result;
    if (sqlite3_step(statement) == SQLITE_ROW)
      result = reinterpret_cast<const char*>(sqlite3_column_text(statement, 0));
    sqlite3_finalize(statement);
    return result;
  }
  // `rows` rows of `bytes` random bytes each, in one transaction.
  static void insert(sqlite3* db, int rows, int bytes) {
    exec(db, "BEGIN IMMEDIATE");
    for (int i = 0; i < rows; ++i)
      exec(db, "INSERT INTO t (v) VALUES (randomblob(" + std::to_string(bytes) + "))");
    exec(db, "COMMIT");
  }

  std::string dir_, path_;
  sqlite3* writer_ = nullptr;
  sqlite3* reader_ = nullptr;
};

TEST_F(LogWriteGatheringTest, ACommitReachesTheLogInOneWriteAndIsVisibleAtOnce) {
  open_writer();
  reader_ = open(nullptr);
  ASSERT_EQ(count(reader_), 0);

  const LogWriteGatheringStats before = log_write_gathering_stats();
  insert(writer_, 12, 1000);  // 4 table pages, index pages, page 1: about 8 frames, 16 writes asked for
  const LogWriteGatheringStats after = log_write_gathering_stats();
  EXPECT_GE(after.writes_gathered - before.writes_gathered, 10u);
  EXPECT_EQ(after.writes_issued - before.writes_issued, 1u);
  EXPECT_EQ(log_bytes_gathered(writer_), 0u);
  EXPECT_EQ(count(reader_), 12);  // the commit was on the file before the reader could see it
  EXPECT_EQ(integrity(reader_), "ok");
}

TEST_F(LogWriteGatheringTest, ALargeCommitIsWrittenInPiecesTheUnixVfsAccepts) {
  open_writer();
  exec(writer_, "PRAGMA cache_size = -65536");  // as the server's writer: no page spills before the commit
  const LogWriteGatheringStats before = log_write_gathering_stats();
  insert(writer_, 400, 3000);  // about 2.5 MB of log (table and index): one 120 KiB piece after another
  const LogWriteGatheringStats after = log_write_gathering_stats();
  EXPECT_GE(after.writes_issued - before.writes_issued, 10u);
  EXPECT_LT(after.writes_issued - before.writes_issued,
            (after.writes_gathered - before.writes_gathered) / 10);
  reader_ = open(nullptr);
  EXPECT_EQ(count(reader_), 400);
  EXPECT_EQ(integrity(reader_), "ok");
}

TEST_F(LogWriteGatheringTest, ASpillingTransactionReadsBackWhatItWroteAndARollbackLeavesNothing) {
  open_writer();
  exec(writer_, "PRAGMA cache_size = 4");  // pages spill to the log in the middle of the transaction
  exec(writer_, "BEGIN IMMEDIATE");
  for (int i = 0; i < 200; ++i) exec(writer_, "INSERT INTO t (v) VALUES (randomblob(1500))");
  EXPECT_EQ(count(writer_), 200);  // read back from frames that were spilled, not committed
  EXPECT_EQ(count(writer_, "SELECT count(*) FROM t WHERE length(v) = 1500"), 200);
  exec(writer_, "ROLLBACK");
  EXPECT_EQ(count(writer_), 0);

  insert(writer_, 150, 1500);  // rewrites the log where the rolled-back frames were
  EXPECT_EQ(log_bytes_gathered(writer_), 0u);
  reader_ = open(nullptr);
  EXPECT_EQ(count(reader_), 150);
  EXPECT_EQ(integrity(reader_), "ok");
}

TEST_F(LogWriteGatheringTest, SynchronousFullCommitsAndCheckpointsComeOutWhole) {
  open_writer("FULL");
  for (int round = 0; round < 5; ++round) insert(writer_, 20, 900);
  exec(writer_, "PRAGMA wal_checkpoint(TRUNCATE)");
  insert(writer_, 20, 900);  // the log starts over at its beginning, with a new header
  sqlite3_close_v2(writer_);
  writer_ = nullptr;
  reader_ = open(nullptr);
  EXPECT_EQ(count(reader_), 120);
  EXPECT_EQ(integrity(reader_), "ok");
}

// kill -9 right after COMMIT returned: the commit is in the file (the kernel has it), and a transaction that
// was still open is not.
TEST_F(LogWriteGatheringTest, AProcessKilledAfterACommitLeavesTheCommitInTheFile) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    sqlite3* db = nullptr;
    if (sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE,
                        log_write_gathering_vfs()) != SQLITE_OK) {
      ::_exit(2);
    }
    const char* sql =
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; PRAGMA cache_size = 4;"
        "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB NOT NULL);"
        "BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 77)"
        "  INSERT INTO t (v) SELECT randomblob(700) FROM n; COMMIT;"
        "BEGIN; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 300)"
        "  INSERT INTO t (v) SELECT randomblob(700) FROM n;";
    if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) ::_exit(3);
    ::kill(::getpid(), SIGKILL);  // no close, no checkpoint, no atexit
    ::_exit(4);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFSIGNALED(status)) << "child exit " << WEXITSTATUS(status);
  reader_ = open(nullptr);
  EXPECT_EQ(count(reader_), 77);
  EXPECT_EQ(integrity(reader_), "ok");
}

}  // namespace
}  // namespace latchkey
