// The public HTTP API (docs/api.md): verification sessions, registration, accounts, keys, devices, messages,
// health and metrics.
// Handlers translate HTTP to domain calls and back; they hold no state of their own.
#pragma once

#include <functional>
#include <optional>

#include "accounts/account_service.h"
#include "alerts/alert_engine.h"
#include "devices/device_service.h"
#include "devices/provisioning_registry.h"
#include "encrypted_storage/encrypted_storage_service.h"
#include "incidents/incident_service.h"
#include "keys/key_service.h"
#include "lock/backup_service.h"
#include "lock/registration_lock.h"
#include "messages/client_presence.h"
#include "messages/message_service.h"
#include "metrics/metrics.h"
#include "net/router.h"
#include "staff/account_lookup.h"
#include "staff/staff_service.h"
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
  KeyService& keys;
  DeviceService& devices;
  ProvisioningRegistry& provisioning;
  MessageService& messages;
  ClientPresence& presence;
  Limits& limits;
  Random& random;
  const DevicesConfig& devices_config;
};

void add_verification_routes(Router& router, VerificationService& verification);
void add_account_routes(Router& router, AccountService& accounts, NoticeStore& notices);
void add_lock_routes(Router& router, AccountService& accounts, RegistrationLockService& lock, BackupService& backups,
                     TakeoverGuard& takeover, const Clock& clock);
void add_storage_routes(Router& router, AccountService& accounts, EncryptedStorageService& storage);
void add_operations_routes(Router& router, Storage& storage, MetricsRegistry& metrics);
void add_key_routes(Router& router, AccountService& accounts, KeyService& keys);
void add_device_routes(Router& router, AccountService& accounts, DeviceService& devices,
                       ProvisioningRegistry& provisioning, Limits& limits, const Clock& clock, Random& random,
                       const DevicesConfig& config);
// The staff console: sign-in, staff, lookups, audit log and static files (net/staff_routes.cc).
void add_staff_routes(Router& router, StaffService& staff, AccountLookup& lookup, AuditLog& audit,
                      AlertEngine& alerts);
// Providers and incidents in the staff console (net/incident_routes.cc).
void add_incident_routes(Router& router, IncidentService& incidents, StaffAuthorizer& staff);
void add_message_routes(Router& router, AccountService& accounts, MessageService& messages, ClientPresence& presence);

inline void add_api_routes(Router& router, const ApiServices& s) {
  add_verification_routes(router, s.verification);
  add_account_routes(router, s.accounts, s.storage.notices());
  add_lock_routes(router, s.accounts, s.registration_lock, s.backups, s.takeover, s.clock);
  add_storage_routes(router, s.accounts, s.encrypted_storage);
  add_operations_routes(router, s.storage, s.metrics);
  add_key_routes(router, s.accounts, s.keys);
  add_device_routes(router, s.accounts, s.devices, s.provisioning, s.limits, s.clock, s.random, s.devices_config);
  add_message_routes(router, s.accounts, s.messages, s.presence);
}

// The device named by the request's Basic credentials ("uuid.deviceId:password" or "uuid:password").
// kUnauthorized when missing or wrong.
Result<AuthenticatedDevice> authenticate_device(AccountService& accounts, const HttpRequest& request);
// The same without storage (AccountService::authenticate_if_cached): nullopt when it would need a read.
std::optional<Result<AuthenticatedDevice>> authenticate_device_if_cached(AccountService& accounts,
                                                                         const HttpRequest& request);

}  // namespace latchkey
