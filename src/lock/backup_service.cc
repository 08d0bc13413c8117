#include "lock/backup_service.h"

#include "core/logging.h"
#include "crypto/secret_hash.h"

namespace latchkey {

BackupService::BackupService(BackupStore& store, Random& random, const Clock& clock, MetricsRegistry& metrics)
    : store_(store),
      random_(random),
      clock_(clock),
      restored_(metrics.counter("latchkey_backup_restores_total", "Backup restore attempts by outcome", {{"outcome", "restored"}})),
      mismatched_(metrics.counter("latchkey_backup_restores_total", "Backup restore attempts by outcome", {{"outcome", "pin_mismatch"}})),
      erased_(metrics.counter("latchkey_backup_restores_total", "Backup restore attempts by outcome", {{"outcome", "erased"}})) {}

Status BackupService::put(const std::string& account_uuid, const std::string& access_key, const std::string& data,
                          int max_tries) {
  if (access_key.size() != kAccessKeyBytes)
    return make_error(ErrorCode::kMalformedRequest, "accessKey must be 32 bytes");
  if (data.size() < kMinDataBytes || data.size() > kMaxDataBytes)
    return make_error(ErrorCode::kMalformedRequest, "data must be 16 to 48 bytes");
  if (max_tries < 1 || max_tries > 255) return make_error(ErrorCode::kMalformedRequest, "maxTries must be 1 to 255");
  Backup backup;
  backup.account_uuid = account_uuid;
  backup.access_key_record = hash_password(random_, access_key);
  backup.data = data;
  backup.max_tries = max_tries;
  backup.tries_remaining = max_tries;
  backup.exposed = false;
  backup.updated_at = clock_.now_ms();
  return store_.put(backup);
}

Status BackupService::expose(const std::string& account_uuid, const std::string& data) {
  if (data.size() < kMinDataBytes || data.size() > kMaxDataBytes)
    return make_error(ErrorCode::kMalformedRequest, "data must be 16 to 48 bytes");
  Status exposed = store_.expose(account_uuid, data);
  if (!exposed.ok() && exposed.error().code == ErrorCode::kNotFound)
    return make_error(ErrorCode::kNotFound, "no backup was stored for this account");
  if (!exposed.ok() && exposed.error().code == ErrorCode::kConflict)
    return make_error(ErrorCode::kConflict, "data differs from the stored backup; store it again");
  return exposed;
}

Result<RestoredBackup> BackupService::restore(const std::string& account_uuid, const std::string& access_key) {
  if (access_key.size() != kAccessKeyBytes)
    return make_error(ErrorCode::kMalformedRequest, "accessKey must be 32 bytes");
  auto attempt = store_.attempt_restore(
      account_uuid, [&](const std::string& record) { return verify_password(record, access_key); });
  if (!attempt.ok()) return attempt.take_error();
  switch (attempt->outcome) {
    case RestoreAttempt::Outcome::kRestored:
      restored_.inc();
      return RestoredBackup{std::move(attempt->data), attempt->tries_remaining};
    case RestoreAttempt::Outcome::kMismatch: {
      mismatched_.inc();
      Error e = make_error(ErrorCode::kPinMismatch, "the access key does not match");
      e.details = {{"triesRemaining", attempt->tries_remaining}};
      return e;
    }
    case RestoreAttempt::Outcome::kErased: {
      erased_.inc();
      log::warn("backup_erased_after_wrong_guesses", {{"uuid", account_uuid}});
      Error e = make_error(ErrorCode::kPinMismatch, "the access key does not match; no tries are left and the backup was erased");
      e.details = {{"triesRemaining", 0}};
      return e;
    }
    case RestoreAttempt::Outcome::kNotFound: break;
  }
  return make_error(ErrorCode::kNotFound, "no restorable backup for this account");
}

}  // namespace latchkey
