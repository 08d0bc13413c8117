// Registration of phone numbers and authentication of devices. Registering a number that already has an
// account keeps its uuid and replaces every device (their credentials stop working at once).
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "core/ticketed_cache.h"
#include "crypto/random.h"
#include "limits/rate_limiter.h"
#include "lock/registration_lock.h"
#include "lock/takeover_guard.h"
#include "metrics/metrics.h"
#include "storage/account_store.h"
#include "verification/verification_service.h"

namespace latchkey {

struct RegistrationRequest {
  std::string number;       // from the Basic auth user name, international format
  std::string password;     // from the Basic auth password: the new primary device's password
  std::string session_id;   // a verified verification session for `number`
  std::int64_t registration_id = 0;  // 1..16383
  // The optional fields below may be left out of an aggregate initializer.
  std::optional<std::string> name = std::nullopt;  // opaque device name
  // 64 hex characters, needed when the number is locked.
  std::optional<std::string> registration_lock = std::nullopt;
  // accountAttributes.recoveryPassword, stored for next time.
  std::optional<std::string> new_recovery_password = std::nullopt;
  // Registers without a session (session_id then empty).
  std::optional<std::string> recovery_password = std::nullopt;
};

struct RegisteredDevice {
  std::string uuid;
  std::string number;
  std::uint32_t device_id = 1;
  bool replaced_existing = false;
  std::optional<PendingTakeover> pending;  // set when the registration waits out the takeover delay
};

struct AuthenticatedDevice {
  std::string uuid;
  std::string number;
  Device device;  // its id, registration id and times; never its password record or name
  std::vector<std::uint32_t> account_device_ids;  // every device of the account, this one included
};

// Told when devices lose their credentials: `device_id` nullopt means every device of the account (it was
// re-registered or deleted). Runs on the calling worker thread; must not block.
using DevicesRemovedListener = std::function<void(const std::string& uuid, std::optional<std::uint32_t> device_id)>;

// Thread-safe; every method may block on storage (call from a worker thread).
class AccountService {
 public:
  // `lock` and `takeover` may be null (no Registration Lock / takeover delay, for tests of registration alone).
  AccountService(const AccountsConfig& config, AccountStore& store, VerificationService& verification, Limits& limits,
                 RegistrationLockService* lock, TakeoverGuard* takeover, const Clock& clock, Random& random,
                 MetricsRegistry& metrics);

  // kMalformedRequest (password length, registration id range, name too long), kInvalidNumber,
  // kRateLimited, the session errors of VerificationService::consume_for_registration, and
  // kRegistrationLocked when the number's account is locked (RegistrationLockService::check), kTakeoverDenied,
  // kRecoveryPasswordInvalid (registration by recovery password: none stored or wrong; no session needed, no
  // takeover delay, Registration Lock still applies).
  // When the number's account is active and the caller did not prove to be its owner, the answer is ok
  // with `pending` set and nothing registered yet (TakeoverGuard).
  Result<RegisteredDevice> register_account(const RegistrationRequest& request);

  // `username` is "uuid" (device 1) or "uuid.deviceId". kUnauthorized for anything that does not match,
  // without saying which part was wrong. The password is checked on every call; the account's devices and
  // password records come from memory when they were read less than accounts.credential_cache_ttl ago and
  // nothing changed them since (forget_credentials).
  Result<AuthenticatedDevice> authenticate(std::string_view username, std::string_view password);

  // authenticate() when it needs no storage (safe on an I/O thread): nullopt when the account's credentials
  // are not in memory or the device is due to be recorded as seen; then call authenticate().
  std::optional<Result<AuthenticatedDevice>> authenticate_if_cached(std::string_view username,
                                                                    std::string_view password);

  // Drops what authenticate() remembers of `uuid`'s devices. Whoever adds or removes devices of an account,
  // or replaces their passwords, calls it once the change is durable, before answering: from then on a
  // removed device's credentials fail. This service calls it itself for registration and deletion; the
  // application wires device linking and removal and incident unregistration to it.
  void forget_credentials(const std::string& uuid) { credentials_.forget(uuid); }

  // Forgets the number's registration recovery password (someone completed an SMS verification for it).
  void forget_recovery_password(const std::string& number);

  // Deletes the account of an authenticated device with all its devices and data. kNotFound if already gone.
  Status delete_account(const AuthenticatedDevice& device);

  // Set once at start-up (the relay closes the sockets of removed devices).
  void set_devices_removed_listener(DevicesRemovedListener listener) { devices_removed_ = std::move(listener); }

 private:
  const AccountsConfig& config_;
  AccountStore& store_;
  VerificationService& verification_;
  Limits& limits_;
  RegistrationLockService* lock_;
  TakeoverGuard* takeover_;
  const Clock& clock_;
  Random& random_;
  Counter& registrations_new_;
  Counter& registrations_replaced_;
  Counter& deletions_;
  DevicesRemovedListener devices_removed_;

  // What authenticate() needs of an account, by uuid (core/ticketed_cache.h).
  struct CachedDevice {
    std::uint32_t id = 0;
    int registration_id = 0;
    EpochMillis created_at = 0;
    EpochMillis last_seen_at = 0;
    std::string password_hash;
  };
  struct Credentials {
    std::string number;
    std::vector<CachedDevice> devices;  // ordered by id
  };
  struct Login {
    std::string uuid;
    std::uint32_t device_id = 1;
  };
  Result<Login> parse_login(std::string_view username, std::string_view password) const;  // kUnauthorized
  // The device of `login` if `password` is its password; sets *touch_due when it was last seen over an hour
  // ago.
  Result<AuthenticatedDevice> check(const Login& login, const Credentials& credentials,
                                    std::string_view password, bool* touch_due) const;

  TicketedCache<Credentials> credentials_;
};

}  // namespace latchkey
