#include "audit/audit_chain.h"
#include "audit/audit_service.h"

#include <sodium.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <thread>

#include <gtest/gtest.h>

#include "core/encoding.h"
#include "crypto/random.h"
#include "storage/test_storage.h"

namespace latchkey {
namespace {

std::string sha256_hex(std::string_view a, std::string_view b = {}, std::string_view c = {}) {
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  for (std::string_view part : {a, b, c})
    crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(part.data()), part.size());
  unsigned char out[32];
  crypto_hash_sha256_final(&state, out);
  return hex_encode(std::string_view(reinterpret_cast<char*>(out), 32));
}

TEST(AuditChainTest, CanonicalFormIsSortedCompactJson) {
  nlohmann::json details = {{"reason", "case 12 \"urgent\"\n"}, {"count", 3}, {"nested", {{"z", true}, {"b", nullptr}}}};
  EXPECT_EQ(audit_canonical_form(7, 1700000000123, "staff:abc", "account.unmask", "uuid-1", details),
            "{\"action\":\"account.unmask\",\"actor\":\"staff:abc\",\"at\":1700000000123,"
            "\"details\":{\"count\":3,\"nested\":{\"b\":null,\"z\":true},\"reason\":\"case 12 \\\"urgent\\\"\\n\"},"
            "\"seq\":7,\"target\":\"uuid-1\"}");
  // UTF-8 stays as is; control characters are escaped in lowercase hex.
  EXPECT_EQ(canonical_details({{"name", "J\xC3\xA9r\xC3\xB4me\x01"}}), "{\"name\":\"J\xC3\xA9r\xC3\xB4me\\u0001\"}");
}

TEST(AuditChainTest, HashesFollowTheDefinition) {
  ASSERT_TRUE(initialize_crypto());
  std::string canonical = audit_canonical_form(1, 5, "cli", "staff.invite", "alice", nlohmann::json::object());
  std::string leaf = audit_leaf_hash(canonical);
  EXPECT_EQ(hex_encode(leaf), sha256_hex("latchkey-audit-leaf-v1", canonical));
  std::string genesis = audit_genesis_hash();
  EXPECT_EQ(genesis, std::string(32, '\0'));
  EXPECT_EQ(hex_encode(audit_chain_hash(genesis, leaf)), sha256_hex("latchkey-audit-chain-v1", genesis, leaf));

  AuditEntry entry;
  entry.seq = 1;
  entry.at = 5;
  entry.actor = "cli";
  entry.action = "staff.invite";
  entry.target = "alice";
  entry.details = nlohmann::json::object();
  seal_audit_entry(entry, genesis);
  EXPECT_EQ(entry.prev_hash, genesis);
  EXPECT_EQ(entry.hash, audit_chain_hash(genesis, leaf));
}

TEST(AuditChainTest, CheckpointsSignAndParse) {
  ASSERT_TRUE(initialize_crypto());
  auto key = audit_signing_key_from_seed(std::string(32, '\x07'));
  ASSERT_TRUE(key.ok());
  std::string head(32, '\xab');
  AuditCheckpoint checkpoint = sign_audit_checkpoint(*key, 42, head, 1700000000000);
  EXPECT_TRUE(verify_audit_checkpoint(checkpoint, key->public_key));
  EXPECT_EQ(audit_checkpoint_message(42, head, 1700000000000).size(), 76u);

  std::string line = format_audit_checkpoint(checkpoint);
  EXPECT_EQ(line.rfind("{\"seq\":42,\"head\":\"" + hex_encode(head) + "\",\"at\":1700000000000,\"signature\":\"", 0), 0u);
  auto parsed = parse_audit_checkpoint(line);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->seq, 42);
  EXPECT_EQ(parsed->head, head);
  EXPECT_EQ(parsed->key_id, audit_key_id(key->public_key));
  EXPECT_TRUE(verify_audit_checkpoint(*parsed, key->public_key));

  AuditCheckpoint moved = *parsed;
  moved.seq = 43;
  EXPECT_FALSE(verify_audit_checkpoint(moved, key->public_key));
  auto other = audit_signing_key_from_seed(std::string(32, '\x08'));
  EXPECT_FALSE(verify_audit_checkpoint(*parsed, other->public_key));
  EXPECT_FALSE(parse_audit_checkpoint("{\"seq\":1}").has_value());
  EXPECT_FALSE(parse_audit_checkpoint("not json").has_value());
}

class AuditLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(initialize_crypto());
    dir_ = fresh_test_dir("audit");
    storage_ = open_test_storage(dir_);
    ASSERT_NE(storage_, nullptr);
    auto key = audit_signing_key_from_seed(std::string(32, '\x11'));
    ASSERT_TRUE(key.ok());
    public_key_ = key->public_key;
    service_ = std::make_unique<AuditService>(storage_->audit(), clock_, *key, checkpoint_path());
  }

  void TearDown() override {
    service_.reset();
    if (storage_) storage_->close();
    std::filesystem::remove_all(dir_);
  }

  std::string checkpoint_path() const { return (dir_ / "checkpoints.jsonl").string(); }
  std::string db_path() const { return (dir_ / "db.sqlite").string(); }

  void record_entries(int count) {
    for (int i = 0; i < count; ++i) {
      clock_.advance(std::chrono::milliseconds(1000));
      auto seq = service_->record("staff:s" + std::to_string(i), "account.lookup", "target-" + std::to_string(i),
                                  {{"query", "+33******" + std::to_string(10 + i)}, {"n", i}});
      ASSERT_TRUE(seq.ok()) << seq.error().message;
    }
  }

  // Runs SQL on the database file through a separate sqlite3 connection, as an attacker with file access would.
  void tamper(const std::string& sql) {
    sqlite3* db = nullptr;
    ASSERT_EQ(sqlite3_open(db_path().c_str(), &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    char* message = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
    EXPECT_EQ(rc, SQLITE_OK) << (message ? message : "");
    sqlite3_free(message);
    sqlite3_close(db);
  }

  AuditVerifyReport verify() {
    auto report = verify_audit_log(storage_->audit(), checkpoint_path(), public_key_);
    EXPECT_TRUE(report.ok()) << report.error().message;
    return report.ok() ? *report : AuditVerifyReport{false, 0, 0, 0, -1, "error"};
  }

  void expect_bad(std::int64_t seq, const std::string& reason_part) {
    AuditVerifyReport report = verify();
    EXPECT_FALSE(report.ok);
    EXPECT_EQ(report.first_bad_seq, seq) << report.reason;
    EXPECT_NE(report.reason.find(reason_part), std::string::npos) << report.reason;
  }

  std::filesystem::path dir_;
  ManualClock clock_;
  std::unique_ptr<Storage> storage_;
  std::string public_key_;
  std::unique_ptr<AuditService> service_;
};

TEST_F(AuditLogTest, RecordsAChainThatVerifies) {
  record_entries(5);
  auto entries = service_->list(0, 10);
  ASSERT_TRUE(entries.ok());
  ASSERT_EQ(entries->size(), 5u);
  EXPECT_EQ((*entries)[0].seq, 5);
  EXPECT_EQ((*entries)[4].seq, 1);
  EXPECT_EQ((*entries)[4].prev_hash, audit_genesis_hash());
  EXPECT_EQ((*entries)[0].prev_hash, (*entries)[1].hash);
  EXPECT_EQ((*entries)[2].details["n"], 2);
  auto older = service_->list(3, 10);
  ASSERT_TRUE(older.ok());
  ASSERT_EQ(older->size(), 2u);
  EXPECT_EQ((*older)[0].seq, 2);

  AuditVerifyReport report = verify();
  EXPECT_TRUE(report.ok) << report.reason;
  EXPECT_EQ(report.entries_checked, 5);
  EXPECT_EQ(report.last_seq, 5);
}

TEST_F(AuditLogTest, OddDetailsAreNormalised) {
  ASSERT_TRUE(service_->record("cli", "staff.sign_out", "", nullptr).ok());
  ASSERT_TRUE(service_->record("cli", "x", "", nlohmann::json::array({1, 2})).ok());
  ASSERT_TRUE(service_->record("bad\xff", "x", "", {{"k", std::string("\xc3(")}}).ok());
  auto entries = service_->list(0, 10);
  ASSERT_TRUE(entries.ok());
  EXPECT_EQ((*entries)[2].details, nlohmann::json::object());
  EXPECT_EQ((*entries)[1].details["value"], nlohmann::json::array({1, 2}));
  EXPECT_EQ((*entries)[0].actor, "bad\xEF\xBF\xBD");
  EXPECT_TRUE(verify().ok);
}

TEST_F(AuditLogTest, ConcurrentAppendsKeepOneChain) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 25;
  std::vector<std::thread> threads;
  std::mutex mutex;
  std::set<std::int64_t> seqs;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        auto seq = service_->record("staff:t" + std::to_string(t), "account.lookup", "", {{"i", i}});
        ASSERT_TRUE(seq.ok()) << seq.error().message;
        std::lock_guard lock(mutex);
        seqs.insert(*seq);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  ASSERT_EQ(seqs.size(), static_cast<std::size_t>(kThreads * kPerThread));
  EXPECT_EQ(*seqs.begin(), 1);
  EXPECT_EQ(*seqs.rbegin(), kThreads * kPerThread);
  AuditVerifyReport report = verify();
  EXPECT_TRUE(report.ok) << report.reason;
  EXPECT_EQ(report.entries_checked, kThreads * kPerThread);
}

TEST_F(AuditLogTest, CheckpointIsWrittenOnlyWhenSomethingIsNew) {
  auto empty = service_->write_checkpoint();
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(*empty);
  EXPECT_FALSE(std::filesystem::exists(checkpoint_path()));

  record_entries(3);
  auto first = service_->write_checkpoint();
  ASSERT_TRUE(first.ok()) << first.error().message;
  EXPECT_TRUE(*first);
  auto again = service_->write_checkpoint();
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  record_entries(2);
  auto second = service_->write_checkpoint();
  ASSERT_TRUE(second.ok());
  EXPECT_TRUE(*second);

  std::ifstream in(checkpoint_path());
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(parse_audit_checkpoint(lines[0])->seq, 3);
  EXPECT_EQ(parse_audit_checkpoint(lines[1])->seq, 5);

  // A new service over the same file knows the last checkpoint.
  auto key = audit_signing_key_from_seed(std::string(32, '\x11'));
  AuditService restarted(storage_->audit(), clock_, *key, checkpoint_path());
  auto after_restart = restarted.write_checkpoint();
  ASSERT_TRUE(after_restart.ok());
  EXPECT_FALSE(*after_restart);

  AuditVerifyReport report = verify();
  EXPECT_TRUE(report.ok) << report.reason;
  EXPECT_EQ(report.checkpoints_checked, 2);
  EXPECT_EQ(report.entries_checked, 5);
}

class AuditTamperTest : public AuditLogTest {
 protected:
  void SetUp() override {
    AuditLogTest::SetUp();
    record_entries(10);
    auto written = service_->write_checkpoint();
    ASSERT_TRUE(written.ok() && *written);
    ASSERT_TRUE(verify().ok);
  }
};

TEST_F(AuditTamperTest, EditedActor) {
  tamper("UPDATE audit_log SET actor = 'staff:someone-else' WHERE seq = 4");
  expect_bad(4, "does not match its hash");
}

TEST_F(AuditTamperTest, EditedDetails) {
  tamper("UPDATE audit_log SET details = '{\"n\":3,\"query\":\"+33******99\"}' WHERE seq = 4");
  expect_bad(4, "does not match its hash");
}

TEST_F(AuditTamperTest, EditedDetailsWhitespaceOnly) {
  tamper("UPDATE audit_log SET details = replace(details, ',', ', ') WHERE seq = 4");
  expect_bad(4, "canonical form");
}

TEST_F(AuditTamperTest, EditedTime) {
  tamper("UPDATE audit_log SET at = at + 1 WHERE seq = 4");
  expect_bad(4, "does not match its hash");
}

TEST_F(AuditTamperTest, EditedPrevHash) {
  tamper("UPDATE audit_log SET prev_hash = zeroblob(32) WHERE seq = 4");
  expect_bad(4, "prev_hash");
}

TEST_F(AuditTamperTest, DeletedRow) {
  tamper("DELETE FROM audit_log WHERE seq = 4");
  expect_bad(4, "missing");
}

TEST_F(AuditTamperTest, DeletedRowAndRenumbered) {
  tamper("DELETE FROM audit_log WHERE seq = 4; UPDATE audit_log SET seq = -seq WHERE seq > 4; "
         "UPDATE audit_log SET seq = -seq - 1 WHERE seq < 0");
  expect_bad(4, "prev_hash");
}

TEST_F(AuditTamperTest, DeletedTailBelowTheCheckpoint) {
  tamper("DELETE FROM audit_log WHERE seq >= 8");
  expect_bad(8, "were deleted");
}

TEST_F(AuditTamperTest, DeletedEverything) {
  tamper("DELETE FROM audit_log");
  expect_bad(1, "were deleted");
}

TEST_F(AuditTamperTest, SwappedRowContents) {
  tamper("CREATE TEMP TABLE t AS SELECT * FROM audit_log WHERE seq IN (3, 6);"
         "UPDATE audit_log SET (at, actor, action, target, details, prev_hash, hash) = "
         "(SELECT at, actor, action, target, details, prev_hash, hash FROM t WHERE t.seq = 9 - audit_log.seq) "
         "WHERE seq IN (3, 6)");
  expect_bad(3, "prev_hash");
}

TEST_F(AuditTamperTest, SwappedSequenceNumbers) {
  tamper("UPDATE audit_log SET seq = 1000 WHERE seq = 3; UPDATE audit_log SET seq = 3 WHERE seq = 6; "
         "UPDATE audit_log SET seq = 6 WHERE seq = 1000");
  expect_bad(3, "prev_hash");
}

TEST_F(AuditTamperTest, RewrittenChainIsCaughtByTheCheckpoint) {
  // Rewrite entry 4 and re-hash it and every later entry consistently: only the signed checkpoint notices.
  auto rows = storage_->audit().read_range(1, 100);
  ASSERT_TRUE(rows.ok());
  std::string prev = (*rows)[2].hash;
  std::string sql;
  for (std::size_t i = 3; i < rows->size(); ++i) {
    AuditRow& row = (*rows)[i];
    if (row.seq == 4) row.actor = "staff:innocent";
    std::string hash = audit_chain_hash(
        prev, audit_leaf_hash(audit_canonical_form(row.seq, row.at, row.actor, row.action, row.target,
                                                   nlohmann::json::parse(row.details))));
    sql += "UPDATE audit_log SET actor = '" + row.actor + "', prev_hash = x'" + hex_encode(prev) + "', hash = x'" +
           hex_encode(hash) + "' WHERE seq = " + std::to_string(row.seq) + ";";
    prev = hash;
  }
  tamper(sql);
  expect_bad(10, "does not match the checkpoint");

  // The service refuses to sign the rewritten log.
  record_entries(1);
  auto written = service_->write_checkpoint();
  EXPECT_FALSE(written.ok());
}

TEST_F(AuditTamperTest, ForgedCheckpoint) {
  auto other = audit_signing_key_from_seed(std::string(32, '\x22'));
  auto rows = storage_->audit().read_range(5, 1);
  ASSERT_TRUE(rows.ok());
  AuditCheckpoint forged = sign_audit_checkpoint(*other, 5, (*rows)[0].hash, clock_.now_ms());
  std::ofstream(checkpoint_path(), std::ios::app) << format_audit_checkpoint(forged) << "\n";
  expect_bad(5, "forged");
}

TEST_F(AuditTamperTest, CheckpointWithAlteredSignature) {
  std::string text;
  {
    std::ifstream in(checkpoint_path());
    std::getline(in, text);
  }
  auto pos = text.find("\"signature\":\"") + 13;
  text[pos] = text[pos] == '0' ? '1' : '0';
  std::ofstream(checkpoint_path(), std::ios::trunc) << text << "\n";
  expect_bad(10, "forged");
}

TEST_F(AuditTamperTest, MalformedCheckpointLine) {
  std::ofstream(checkpoint_path(), std::ios::app) << "{\"seq\":3}\n";
  expect_bad(0, "is not a checkpoint");
}

class AuditKeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(initialize_crypto());
    dir_ = fresh_test_dir("audit-key");
    config_.signing_key_file = (dir_ / "keys" / "audit.key").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  AuditConfig config_;
};

TEST_F(AuditKeyFileTest, CreatedOnceWithMode0600) {
  EXPECT_EQ(load_audit_signing_key(config_.signing_key_file).error().code, ErrorCode::kNotFound);
  auto created = load_or_create_audit_signing_key(config_);
  ASSERT_TRUE(created.ok()) << created.error().message;
  struct stat st {};
  ASSERT_EQ(::stat(config_.signing_key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  std::ifstream in(config_.signing_key_file);
  std::string text;
  std::getline(in, text);
  EXPECT_EQ(text.size(), 64u);

  auto again = load_or_create_audit_signing_key(config_);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->public_key, created->public_key);
  EXPECT_EQ(again->secret_key, created->secret_key);
}

TEST_F(AuditKeyFileTest, RefusesAFileOthersCanRead) {
  ASSERT_TRUE(load_or_create_audit_signing_key(config_).ok());
  for (mode_t mode : {0640, 0604, 0660, 0602}) {
    ASSERT_EQ(::chmod(config_.signing_key_file.c_str(), mode), 0);
    auto loaded = load_or_create_audit_signing_key(config_);
    ASSERT_FALSE(loaded.ok()) << std::oct << mode;
    EXPECT_NE(loaded.error().message.find("chmod 600"), std::string::npos);
  }
  ASSERT_EQ(::chmod(config_.signing_key_file.c_str(), 0400), 0);
  EXPECT_TRUE(load_or_create_audit_signing_key(config_).ok());
}

TEST_F(AuditKeyFileTest, RefusesAMalformedFile) {
  std::filesystem::create_directories(dir_ / "keys");
  std::ofstream(config_.signing_key_file) << "not hex\n";
  ::chmod(config_.signing_key_file.c_str(), 0600);
  auto loaded = load_or_create_audit_signing_key(config_);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, ErrorCode::kInternal);
  EXPECT_EQ(loaded.error().message.find("not hex"), std::string::npos);  // never echoes the file's content
}

}  // namespace
}  // namespace latchkey
