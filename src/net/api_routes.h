// The public HTTP API (docs/api.md): verification sessions, registration, accounts, health and metrics.
// Handlers translate HTTP to domain calls and back; they hold no state of their own.
#pragma once

#include <functional>

#include "accounts/account_service.h"
#include "encrypted_storage/encrypted_storage_service.h"
#include "lock/backup_service.h"
#include "lock/registration_lock.h"
#include "metrics/metrics.h"
#include "net/router.h"
#include "storage/storage.h"
#include "verification/verification_service.h"

namespace latchkey {

struct ApiServices {
  VerificationService& verification;
  AccountService& accounts;
  RegistrationLockService& registration_lock;
  BackupService& backups;
  TakeoverGuard& takeover;
  Storage& storage;
  MetricsRegistry& metrics;
  const Clock& clock;
  EncryptedStorageService& encrypted_storage;
};

void add_verification_routes(Router& router, VerificationService& verification);
void add_account_routes(Router& router, AccountService& accounts, NoticeStore& notices);
void add_lock_routes(Router& router, AccountService& accounts, RegistrationLockService& lock, BackupService& backups,
                     TakeoverGuard& takeover, const Clock& clock);
void add_storage_routes(Router& router, AccountService& accounts, EncryptedStorageService& storage);
void add_operations_routes(Router& router, Storage& storage, MetricsRegistry& metrics);

inline void add_api_routes(Router& router, const ApiServices& s) {
  add_verification_routes(router, s.verification);
  add_account_routes(router, s.accounts, s.storage.notices());
  add_lock_routes(router, s.accounts, s.registration_lock, s.backups, s.takeover, s.clock);
  add_storage_routes(router, s.accounts, s.encrypted_storage);
  add_operations_routes(router, s.storage, s.metrics);
}

// The device named by the request's Basic credentials ("uuid.deviceId:password" or "uuid:password").
// kUnauthorized when missing or wrong.
Result<AuthenticatedDevice> authenticate_device(AccountService& accounts, const HttpRequest& request);

}  // namespace latchkey
