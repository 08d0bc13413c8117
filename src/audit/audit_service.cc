#include "audit/audit_service.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "core/encoding.h"
#include "core/logging.h"

namespace latchkey {
namespace {

constexpr int kRowsPerRead = 1000;

struct ChainFailure {
  std::int64_t seq = 0;
  std::string reason;
};

// A string made valid UTF-8 (bad bytes become U+FFFD), through the same serializer as the canonical form.
std::string valid_utf8(const std::string& text) {
  return nlohmann::json::parse(nlohmann::json(text).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace))
      .get<std::string>();
}

nlohmann::json valid_details(nlohmann::json details) {
  if (details.is_null()) details = nlohmann::json::object();
  if (!details.is_object()) details = nlohmann::json{{"value", std::move(details)}};
  return nlohmann::json::parse(details.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

// Checks one stored row as entry `expected_seq` following `prev`; on success sets `hash` to its chain hash.
std::optional<ChainFailure> check_row(const AuditRow& row, std::int64_t expected_seq, const std::string& prev,
                                      std::string& hash) {
  const std::string n = std::to_string(expected_seq);
  if (row.seq != expected_seq) {
    return ChainFailure{expected_seq, "entry " + n + " is missing (the next entry present is " +
                                          std::to_string(row.seq) + "): rows were deleted"};
  }
  if (row.prev_hash != prev) {
    return ChainFailure{expected_seq, "entry " + n + "'s prev_hash is not the hash of entry " +
                                          std::to_string(expected_seq - 1) + ": rows were reordered, replaced or removed"};
  }
  nlohmann::json details = nlohmann::json::parse(row.details, nullptr, /*allow_exceptions=*/false);
  if (details.is_discarded()) return ChainFailure{expected_seq, "entry " + n + "'s details are not JSON: the row was edited"};
  std::string canonical;
  try {
    if (canonical_details(details) != row.details)
      return ChainFailure{expected_seq, "entry " + n + "'s details are not in canonical form: the row was edited"};
    canonical = audit_canonical_form(row.seq, row.at, row.actor, row.action, row.target, details);
  } catch (const nlohmann::json::exception&) {
    return ChainFailure{expected_seq, "entry " + n + " holds text that is not UTF-8: the row was edited"};
  }
  hash = audit_chain_hash(prev, audit_leaf_hash(canonical));
  if (hash != row.hash)
    return ChainFailure{expected_seq, "entry " + n + " does not match its hash: the row was edited"};
  return std::nullopt;
}

using EntryCallback = std::function<std::optional<ChainFailure>(std::int64_t seq, const std::string& hash)>;

// Re-hashes rows from `next_seq` (chained from `prev`) through `last_seq` (to the end of the log when < 0). After
// each intact entry, `prev` is its hash, `next_seq` the one after it, and `on_entry` runs (it may answer a
// failure). Answers the first failure, or nullopt.
Result<std::optional<ChainFailure>> walk_chain(AuditStore& store, std::int64_t& next_seq, std::string& prev,
                                               std::int64_t last_seq, const EntryCallback& on_entry) {
  for (;;) {
    if (last_seq >= 0 && next_seq > last_seq) return std::optional<ChainFailure>();
    auto rows = store.read_range(next_seq, kRowsPerRead);
    if (!rows.ok()) return rows.take_error();
    for (const AuditRow& row : *rows) {
      if (last_seq >= 0 && next_seq > last_seq) return std::optional<ChainFailure>();
      std::string hash;
      if (auto failure = check_row(row, next_seq, prev, hash)) return failure;
      prev = std::move(hash);
      if (auto failure = on_entry(next_seq, prev)) return failure;
      ++next_seq;
    }
    if (rows->size() < static_cast<std::size_t>(kRowsPerRead)) {
      if (last_seq >= 0 && next_seq <= last_seq)
        return std::optional<ChainFailure>(ChainFailure{next_seq, "entry " + std::to_string(next_seq) + " is missing: rows were deleted"});
      return std::optional<ChainFailure>();
    }
  }
}

struct CheckpointLine {
  int line = 0;  // 1-based line number in the file
  std::optional<AuditCheckpoint> checkpoint;  // nullopt: malformed
};

struct CheckpointFile {
  std::vector<CheckpointLine> lines;  // non-empty lines only
  bool ends_with_newline = true;      // false for a non-empty file whose last line is torn
};

Result<CheckpointFile> read_checkpoint_file(const std::string& path) {
  CheckpointFile file;
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return file;
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kInternal, "cannot read the audit checkpoint file " + path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return make_error(ErrorCode::kInternal, "cannot read the audit checkpoint file " + path);
  const std::string text = buffer.str();
  file.ends_with_newline = text.empty() || text.back() == '\n';
  std::size_t start = 0;
  int number = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    ++number;
    std::string_view line(text.data() + start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (!line.empty()) file.lines.push_back(CheckpointLine{number, parse_audit_checkpoint(line)});
    start = end + 1;
  }
  return file;
}

// Appends `bytes` to `path` (created 0644 with its folders) and fsyncs the file, and the folder when created.
Status append_durably(const std::string& path, const std::string& bytes) {
  namespace fs = std::filesystem;
  fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) fs::create_directories(parent, ec);
  if (ec) return make_error(ErrorCode::kInternal, "cannot create the folder of " + path + ": " + ec.message());
  bool created = !fs::exists(path, ec);
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) return make_error(ErrorCode::kInternal, "cannot open " + path + ": " + std::strerror(errno));
  bool ok = ::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return make_error(ErrorCode::kInternal, "cannot write " + path);
  if (created) {
    int dir = ::open(parent.empty() ? "." : parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dir >= 0) {
      ::fsync(dir);
      ::close(dir);
    }
  }
  return {};
}

}  // namespace

AuditService::AuditService(AuditStore& store, const Clock& clock, AuditSigningKey key, std::string checkpoint_file)
    : store_(store), clock_(clock), key_(std::move(key)), checkpoint_file_(std::move(checkpoint_file)) {}

Result<std::int64_t> AuditService::record(const std::string& actor, const std::string& action,
                                          const std::string& target, nlohmann::json details) {
  AuditEntry draft;
  draft.at = clock_.now_ms();
  draft.actor = valid_utf8(actor);
  draft.action = valid_utf8(action);
  draft.target = valid_utf8(target);
  draft.details = valid_details(std::move(details));
  auto appended = store_.append([&draft](const AuditHead& head) -> Result<AuditEntry> {
    AuditEntry entry = draft;
    entry.seq = head.seq + 1;
    seal_audit_entry(entry, head.hash);
    return entry;
  });
  if (!appended.ok()) {
    log::error("audit_append_failed", {{"action", draft.action}, {"reason", appended.error().message}});
    return appended.take_error();
  }
  return appended->seq;
}

Result<std::vector<AuditEntry>> AuditService::list(std::int64_t before, int limit) {
  return store_.list(before, limit);
}

Status AuditService::load_last_checkpoint() {
  if (checkpoint_file_loaded_) return {};
  auto file = read_checkpoint_file(checkpoint_file_);
  if (!file.ok()) return file.take_error();
  for (auto it = file->lines.rbegin(); it != file->lines.rend(); ++it) {
    if (it->checkpoint) {
      last_checkpoint_ = it->checkpoint;
      break;
    }
  }
  checkpoint_file_needs_newline_ = !file->ends_with_newline;
  checkpoint_file_loaded_ = true;
  return {};
}

Result<bool> AuditService::write_checkpoint() {
  std::lock_guard lock(checkpoint_mutex_);
  LK_RETURN_IF_ERROR(load_last_checkpoint());
  auto head = store_.head();
  if (!head.ok()) return head.take_error();
  std::int64_t next_seq = 1;
  std::string prev = audit_genesis_hash();
  if (last_checkpoint_) {
    if (head->seq < last_checkpoint_->seq)
      return make_error(ErrorCode::kInternal, "refusing to sign an audit checkpoint: the log ends at entry " +
                                                  std::to_string(head->seq) + " but the last checkpoint covers entry " +
                                                  std::to_string(last_checkpoint_->seq));
    if (head->seq == last_checkpoint_->seq) {
      if (head->hash != last_checkpoint_->head)
        return make_error(ErrorCode::kInternal, "refusing to sign an audit checkpoint: entry " +
                                                    std::to_string(head->seq) + " no longer matches the last checkpoint");
      return false;
    }
    next_seq = last_checkpoint_->seq + 1;
    prev = last_checkpoint_->head;
  } else if (head->seq == 0) {
    return false;
  }
  auto failure = walk_chain(store_, next_seq, prev, head->seq,
                            [](std::int64_t, const std::string&) { return std::optional<ChainFailure>(); });
  if (!failure.ok()) return failure.take_error();
  if (*failure) return make_error(ErrorCode::kInternal, "refusing to sign an audit checkpoint: " + (*failure)->reason);

  AuditCheckpoint checkpoint = sign_audit_checkpoint(key_, head->seq, prev, clock_.now_ms());
  std::string line = (checkpoint_file_needs_newline_ ? "\n" : "") + format_audit_checkpoint(checkpoint) + "\n";
  LK_RETURN_IF_ERROR(append_durably(checkpoint_file_, line));
  checkpoint_file_needs_newline_ = false;
  last_checkpoint_ = checkpoint;
  log::info("audit_checkpoint_written", {{"seq", checkpoint.seq}, {"key_id", checkpoint.key_id}});
  return true;
}

Result<AuditSigningKey> load_audit_signing_key(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return make_error(ErrorCode::kNotFound, "the audit signing key file " + path + " does not exist");
    return make_error(ErrorCode::kInternal, "cannot read the audit signing key file " + path + ": " + std::strerror(errno));
  }
  if (!S_ISREG(st.st_mode))
    return make_error(ErrorCode::kInternal, "the audit signing key file " + path + " is not a regular file");
  if ((st.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
    return make_error(ErrorCode::kInternal, "the audit signing key file " + path + " has mode " + mode +
                                                ": it must not be accessible by group or others (chmod 600 " + path + ")");
  }
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return make_error(ErrorCode::kInternal, "cannot open the audit signing key file " + path);
  char buffer[130];
  ssize_t size = ::read(fd, buffer, sizeof buffer);
  ::close(fd);
  std::string text(buffer, size > 0 ? static_cast<std::size_t>(size) : 0);
  sodium_memzero(buffer, sizeof buffer);
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) text.pop_back();
  auto seed = hex_decode(text);
  sodium_memzero(text.data(), text.size());
  if (!seed || seed->size() != crypto_sign_SEEDBYTES) {
    if (seed) sodium_memzero(seed->data(), seed->size());
    return make_error(ErrorCode::kInternal, "the audit signing key file " + path + " does not hold 64 hex characters");
  }
  auto key = audit_signing_key_from_seed(*seed);
  sodium_memzero(seed->data(), seed->size());
  return key;
}

Result<AuditSigningKey> load_or_create_audit_signing_key(const AuditConfig& config) {
  const std::string& path = config.signing_key_file;
  auto loaded = load_audit_signing_key(path);
  if (loaded.ok() || loaded.error().code != ErrorCode::kNotFound) return loaded;

  namespace fs = std::filesystem;
  fs::path parent = fs::path(path).parent_path();
  std::error_code ec;
  if (!parent.empty()) fs::create_directories(parent, ec);
  if (ec) return make_error(ErrorCode::kInternal, "cannot create the folder of " + path + ": " + ec.message());
  std::string seed(crypto_sign_SEEDBYTES, '\0');
  randombytes_buf(seed.data(), seed.size());
  std::string text = hex_encode(seed) + "\n";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    sodium_memzero(seed.data(), seed.size());
    sodium_memzero(text.data(), text.size());
    if (errno == EEXIST) return load_audit_signing_key(path);  // created meanwhile by another process
    return make_error(ErrorCode::kInternal, "cannot create the audit signing key file " + path + ": " + std::strerror(errno));
  }
  bool ok = ::fchmod(fd, 0600) == 0 && ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  sodium_memzero(text.data(), text.size());
  if (!ok) {
    sodium_memzero(seed.data(), seed.size());
    ::unlink(path.c_str());
    return make_error(ErrorCode::kInternal, "cannot write the audit signing key file " + path);
  }
  int dir = ::open(parent.empty() ? "." : parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {
    ::fsync(dir);
    ::close(dir);
  }
  auto key = audit_signing_key_from_seed(seed);
  sodium_memzero(seed.data(), seed.size());
  if (key.ok()) log::info("audit_signing_key_generated", {{"path", path}, {"key_id", audit_key_id(key->public_key)}});
  return key;
}

Result<AuditVerifyReport> verify_audit_log(AuditStore& store, const std::string& checkpoint_file,
                                           std::string_view public_key) {
  auto file = read_checkpoint_file(checkpoint_file);
  if (!file.ok()) return file.take_error();
  AuditVerifyReport report;
  auto fail = [&report](std::int64_t seq, std::string reason) {
    report.ok = false;
    report.first_bad_seq = seq;
    report.reason = std::move(reason);
    return report;
  };

  struct NumberedCheckpoint {
    int line = 0;
    AuditCheckpoint checkpoint;
  };
  std::vector<NumberedCheckpoint> checkpoints;
  for (CheckpointLine& line : file->lines) {
    if (!line.checkpoint)
      return fail(0, "line " + std::to_string(line.line) + " of " + checkpoint_file + " is not a checkpoint");
    checkpoints.push_back(NumberedCheckpoint{line.line, std::move(*line.checkpoint)});
  }
  std::stable_sort(checkpoints.begin(), checkpoints.end(),
                   [](const NumberedCheckpoint& a, const NumberedCheckpoint& b) {
                     return a.checkpoint.seq < b.checkpoint.seq;
                   });
  const std::string expected_key_id = audit_key_id(public_key);
  auto signature_failure = [&](const NumberedCheckpoint& line) -> std::optional<ChainFailure> {
    const AuditCheckpoint& c = line.checkpoint;
    if (verify_audit_checkpoint(c, public_key)) return std::nullopt;
    std::string reason = "the checkpoint on line " + std::to_string(line.line) + " (entry " + std::to_string(c.seq) +
                         ") has an invalid signature: it is forged";
    if (c.key_id != expected_key_id) reason += ", or signed by another key (key_id " + c.key_id + ", expected " + expected_key_id + ")";
    return ChainFailure{c.seq, reason};
  };

  // Checkpoints of the empty log, then each checkpoint as the walk reaches its entry.
  std::size_t next_checkpoint = 0;
  auto check_checkpoints_at = [&](std::int64_t seq, const std::string& hash) -> std::optional<ChainFailure> {
    for (; next_checkpoint < checkpoints.size() && checkpoints[next_checkpoint].checkpoint.seq == seq; ++next_checkpoint) {
      const NumberedCheckpoint& line = checkpoints[next_checkpoint];
      if (auto failure = signature_failure(line)) return failure;
      if (line.checkpoint.head != hash)
        return ChainFailure{seq, "the chain at entry " + std::to_string(seq) + " does not match the checkpoint on line " +
                                     std::to_string(line.line) + " (signed at " + std::to_string(line.checkpoint.at) +
                                     "): entries up to " + std::to_string(seq) + " were rewritten"};
      ++report.checkpoints_checked;
    }
    return std::nullopt;
  };
  std::int64_t next_seq = 1;
  std::string prev = audit_genesis_hash();
  if (auto failure = check_checkpoints_at(0, prev)) return fail(failure->seq, failure->reason);
  auto walked = walk_chain(store, next_seq, prev, -1, [&](std::int64_t seq, const std::string& hash) {
    ++report.entries_checked;
    report.last_seq = seq;
    return check_checkpoints_at(seq, hash);
  });
  if (!walked.ok()) return walked.take_error();
  if (*walked) return fail((*walked)->seq, (*walked)->reason);
  // Checkpoints beyond the end of the log: a truncated tail, unless the checkpoint itself is forged.
  for (; next_checkpoint < checkpoints.size(); ++next_checkpoint) {
    const NumberedCheckpoint& line = checkpoints[next_checkpoint];
    if (auto failure = signature_failure(line)) return fail(failure->seq, failure->reason);
    return fail(next_seq, "the log ends at entry " + std::to_string(next_seq - 1) + " but the checkpoint on line " +
                              std::to_string(line.line) + " covers entry " + std::to_string(line.checkpoint.seq) +
                              ": entries from " + std::to_string(next_seq) + " on were deleted");
  }
  return report;
}

}  // namespace latchkey
