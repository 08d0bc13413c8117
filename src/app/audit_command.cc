#include "app/audit_command.h"

#include <filesystem>
#include <iostream>

#include "audit/audit_service.h"
#include "core/encoding.h"
#include "crypto/random.h"
#include "storage/storage.h"

namespace latchkey {
namespace {

int fail(const std::string& what, int code) {
  std::cerr << "latchkeyd audit: " << what << "\n";
  return code;
}

// Opens the configured storage, refusing to create a SQLite file that does not exist yet.
Result<std::unique_ptr<Storage>> open_existing_storage(const StorageConfig& config) {
  if (config.backend == "sqlite" && !std::filesystem::exists(config.sqlite_path))
    return make_error(ErrorCode::kNotFound, "no database at " + config.sqlite_path);
  return open_storage(config);
}

}  // namespace

int run_audit_verify(const Config& config, const std::string& public_key_hex, const std::string& checkpoint_file) {
  if (!initialize_crypto()) return fail("libsodium failed to initialise", kAuditCannotVerify);
  std::string public_key;
  if (!public_key_hex.empty()) {
    auto decoded = hex_decode(public_key_hex);
    if (!decoded || decoded->size() != 32) return fail("--public-key: expected 64 hex characters", kAuditCannotVerify);
    public_key = *decoded;
  } else {
    auto key = load_audit_signing_key(config.audit.signing_key_file);
    if (!key.ok()) return fail(key.error().message + " (or pass --public-key)", kAuditCannotVerify);
    public_key = key->public_key;
  }
  const std::string& checkpoints = checkpoint_file.empty() ? config.audit.checkpoint_file : checkpoint_file;
  auto storage = open_existing_storage(config.storage);
  if (!storage.ok()) return fail(storage.error().message, kAuditCannotVerify);
  auto report = verify_audit_log((*storage)->audit(), checkpoints, public_key);
  (*storage)->close();
  if (!report.ok()) return fail(report.error().message, kAuditCannotVerify);

  std::cout << "checkpoints: " << checkpoints << " (key_id " << audit_key_id(public_key) << ")\n";
  if (!report->ok) {
    std::cout << "audit log NOT intact: " << report->entries_checked << " entries and " << report->checkpoints_checked
              << " checkpoints checked out before the first problem\n";
    if (report->first_bad_seq > 0)
      std::cout << "first bad sequence: " << report->first_bad_seq << ": " << report->reason << "\n";
    else
      std::cout << "checkpoint file: " << report->reason << "\n";
    return kAuditTampered;
  }
  std::cout << "audit log intact: " << report->entries_checked << " entries, " << report->checkpoints_checked
            << " checkpoints checked\n";
  if (report->checkpoints_checked == 0 && report->entries_checked > 0)
    std::cout << "warning: no checkpoints: removal of the newest entries could not be detected\n";
  return kAuditIntact;
}

int run_audit_checkpoint(const Config& config) {
  if (!initialize_crypto()) return fail("libsodium failed to initialise", 1);
  auto storage = open_existing_storage(config.storage);
  if (!storage.ok()) return fail(storage.error().message, 1);
  auto key = load_or_create_audit_signing_key(config.audit);
  if (!key.ok()) return fail(key.error().message, 1);
  std::string public_key = key->public_key;
  SystemClock clock;
  AuditService audit((*storage)->audit(), clock, std::move(key.value()), config.audit.checkpoint_file);
  auto written = audit.write_checkpoint();
  auto head = (*storage)->audit().head();
  (*storage)->close();
  if (!written.ok()) return fail(written.error().message, 1);
  std::int64_t seq = head.ok() ? head->seq : 0;
  if (*written)
    std::cout << "checkpoint written to " << config.audit.checkpoint_file << ": entry " << seq << "\n";
  else
    std::cout << "nothing new to checkpoint (the log ends at entry " << seq << ")\n";
  std::cout << "public key: " << hex_encode(public_key) << " (key_id " << audit_key_id(public_key) << ")\n";
  return 0;
}

}  // namespace latchkey
