// Registration Lock: a token the client derives from its master key (which only the PIN unlocks). While the
// account has a lock and one of its devices was seen within accounts.registration_lock_window, registering
// its number needs the token; a verified SMS code alone is not enough. A failed attempt is answered 423 with
// the time until the lock lapses and short-lived backup credentials (so a real owner on a new device can
// restore the backup with the PIN and derive the token), is limited per number, and leaves a notice for the
// owner's devices.
#pragma once

#include <optional>
#include <string>

#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "crypto/random.h"
#include "limits/rate_limiter.h"
#include "metrics/metrics.h"
#include "storage/account_store.h"
#include "storage/notice_store.h"

namespace latchkey {

// True when `token_hex` has the form of a lock token: 64 hexadecimal characters.
bool is_registration_lock_token(const std::string& token_hex);

struct BackupCredentials {
  std::string username;  // "backup-" + account uuid
  std::string password;  // "<expiry epoch ms>.<base64url HMAC>"
};

// Thread-safe; calls block on storage (worker threads only).
class RegistrationLockService {
 public:
  static constexpr std::size_t kTokenBytes = 32;  // sent as 64 hex characters

  // `credentials_key` (32 bytes) signs backup credentials.
  RegistrationLockService(const AccountsConfig& config, AccountStore& accounts, NoticeStore& notices, Limits& limits,
                          const Clock& clock, Random& random, MetricsRegistry& metrics, std::string credentials_key);

  // kMalformedRequest unless token_hex is 64 hex characters; kNotFound if the account is gone.
  Status set(const std::string& account_uuid, const std::string& token_hex);
  Status clear(const std::string& account_uuid);

  // Decides whether a registration of `existing`'s number may go on. Ok when the account has no lock, none of
  // its devices was seen within the window, or `token_hex` matches. Otherwise kRegistrationLocked (details:
  // timeRemaining, backupCredentials), after recording the failure (notice, metric), or kRateLimited once
  // the number has used up registration_lock_per_number.
  Status check(const Account& existing, const std::optional<std::string>& token_hex);

  // True when the account has a lock and `token_hex` is its token.
  bool token_matches(const Account& existing, const std::string& token_hex) const;

  BackupCredentials issue_backup_credentials(const std::string& account_uuid, EpochMillis now) const;
  // The account uuid the credentials were issued for, if they are authentic and unexpired.
  std::optional<std::string> verify_backup_credentials(const std::string& username, const std::string& password,
                                                       EpochMillis now) const;

 private:
  std::string credential_mac(const std::string& account_uuid, EpochMillis expiry) const;

  const AccountsConfig& config_;
  AccountStore& accounts_;
  NoticeStore& notices_;
  Limits& limits_;
  const Clock& clock_;
  Random& random_;
  const std::string credentials_key_;
  Counter& failures_;
};

}  // namespace latchkey
