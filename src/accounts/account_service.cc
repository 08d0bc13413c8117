#include "accounts/account_service.h"

#include <charconv>

#include "core/logging.h"
#include "core/phone_number.h"
#include "crypto/secret_hash.h"

namespace latchkey {
namespace {

constexpr std::int64_t kMaxRegistrationId = 16383;
constexpr std::size_t kMinRecoveryPasswordBytes = 16;
constexpr std::size_t kMaxRecoveryPasswordBytes = 256;
constexpr EpochMillis kLastSeenGranularityMs = 60LL * 60 * 1000;  // touch last_seen at most hourly

Error unauthorized() { return make_error(ErrorCode::kUnauthorized, "missing or wrong credentials"); }

}  // namespace

AccountService::AccountService(const AccountsConfig& config, AccountStore& store,
                               VerificationService& verification, Limits& limits,
                               RegistrationLockService* lock, TakeoverGuard* takeover, const Clock& clock,
                               Random& random, MetricsRegistry& metrics)
    : config_(config),
      store_(store),
      verification_(verification),
      limits_(limits),
      lock_(lock),
      takeover_(takeover),
      clock_(clock),
      random_(random),
      registrations_new_(
          metrics.counter("latchkey_registrations_total", "Completed registrations", {{"kind", "new"}})),
      registrations_replaced_(metrics.counter("latchkey_registrations_total", "Completed registrations",
                                              {{"kind", "reregistration"}})),
      deletions_(metrics.counter("latchkey_account_deletions_total", "Accounts deleted by their owner")),
      credentials_(config.credential_cache_ttl, config.credential_cache_entries, clock) {}

Result<RegisteredDevice> AccountService::register_account(const RegistrationRequest& request) {
  if (request.password.size() < config_.min_password_length || request.password.size() > config_.max_password_length)
    return make_error(ErrorCode::kMalformedRequest,
                      "the password must be between " + std::to_string(config_.min_password_length) + " and " +
                          std::to_string(config_.max_password_length) + " characters");
  if (request.registration_id < 1 || request.registration_id > kMaxRegistrationId)
    return make_error(ErrorCode::kMalformedRequest, "accountAttributes.registrationId must be between 1 and 16383");
  if (request.name && request.name->size() > config_.max_name_bytes)
    return make_error(ErrorCode::kMalformedRequest,
                      "accountAttributes.name must be at most " + std::to_string(config_.max_name_bytes) + " bytes");
  for (const auto* secret : {&request.new_recovery_password, &request.recovery_password})
    if (*secret && ((*secret)->size() < kMinRecoveryPasswordBytes || (*secret)->size() > kMaxRecoveryPasswordBytes))
      return make_error(ErrorCode::kMalformedRequest, "a recovery password must be 16 to 256 characters");
  if (request.registration_lock && !is_registration_lock_token(*request.registration_lock))
    return make_error(ErrorCode::kMalformedRequest, "accountAttributes.registrationLock must be 64 hexadecimal characters");
  auto number = parse_phone_number(request.number);
  if (!number.ok()) return number.take_error();
  EpochMillis now = clock_.now_ms();
  LK_RETURN_IF_ERROR(limits_.check(Limit::kRegistrationPerNumber, number->e164, now));

  const bool by_recovery_password = request.recovery_password.has_value();
  Status session_usable =
      by_recovery_password ? Status() : verification_.check_for_registration(request.session_id, number->e164);
  auto existing = store_.find_by_number(number->e164);
  if (!existing.ok()) return existing.take_error();
  if (by_recovery_password &&
      (!existing->has_value() || (*existing)->recovery_password_record.empty() ||
       !verify_password((*existing)->recovery_password_record, *request.recovery_password)))
    return make_error(ErrorCode::kRecoveryPasswordInvalid, "no matching recovery password for this number");
  if (!session_usable.ok()) {
    // A session burned by the owner's refusal says so, rather than just "already used".
    if (session_usable.error().code == ErrorCode::kSessionAlreadyUsed && takeover_ && existing->has_value() &&
        takeover_->was_denied((*existing)->uuid, request.session_id))
      return make_error(ErrorCode::kTakeoverDenied, "the account's owner refused this registration");
    return session_usable.take_error();
  }
  if (existing->has_value()) {
    const Account& account = **existing;
    if (lock_) LK_RETURN_IF_ERROR(lock_->check(account, request.registration_lock));
    if (takeover_ && !by_recovery_password) {
      bool owner = lock_ && request.registration_lock && lock_->token_matches(account, *request.registration_lock);
      auto pending = takeover_->check(account, request.session_id, owner);
      if (!pending.ok()) return pending.take_error();
      if (pending->has_value())
        return RegisteredDevice{account.uuid, number->e164, 0, false, std::move(*pending)};
    }
  }
  std::string code_provider;  // whose SMS or call verified the session ("" for a recovery password)
  if (!by_recovery_password) {
    auto session = verification_.consume_for_registration(request.session_id, number->e164);
    if (!session.ok()) return session.take_error();
    code_provider = session->last_provider;
  }

  Device primary;
  primary.id = 1;
  primary.password_hash = hash_password(random_, request.password);
  primary.registration_id = static_cast<int>(request.registration_id);
  primary.name = request.name.value_or("");
  primary.created_at = now;
  primary.last_seen_at = now;
  auto record = store_.create_or_replace(number->e164, new_uuid(random_), primary, now, code_provider);
  if (!record.ok()) return record.take_error();
  forget_credentials(record->account.uuid);  // the old devices' passwords stop working now

  if (takeover_ && record->replaced_existing && !by_recovery_password)
    takeover_->completed(record->account.uuid, request.session_id);
  if (request.new_recovery_password || !record->account.recovery_password_record.empty()) {
    std::string stored = request.new_recovery_password ? hash_password(random_, *request.new_recovery_password) : "";
    Status saved = store_.set_recovery_password(record->account.uuid, stored);
    if (!saved.ok()) return saved.take_error();
  }
  if (record->replaced_existing && devices_removed_) devices_removed_(record->account.uuid, std::nullopt);
  (record->replaced_existing ? registrations_replaced_ : registrations_new_).inc();
  log::info("account_registered", {{"uuid", record->account.uuid},
                                   {"number", log::mask_number(number->e164)},
                                   {"replaced_existing", record->replaced_existing},
                                   {"session", request.session_id}});
  return RegisteredDevice{record->account.uuid, number->e164, 1, record->replaced_existing, std::nullopt};
}

Result<AccountService::Login> AccountService::parse_login(std::string_view username,
                                                          std::string_view password) const {
  Login login{std::string(username), 1};
  if (auto dot = username.find('.'); dot != std::string_view::npos) {
    login.uuid = std::string(username.substr(0, dot));
    std::string_view id_text = username.substr(dot + 1);
    auto [end, ec] = std::from_chars(id_text.data(), id_text.data() + id_text.size(), login.device_id);
    if (ec != std::errc() || end != id_text.data() + id_text.size() || login.device_id == 0)
      return unauthorized();
  }
  if (login.uuid.size() != 36 || password.empty() || password.size() > config_.max_password_length)
    return unauthorized();
  return login;
}

Result<AuthenticatedDevice> AccountService::check(const Login& login, const Credentials& credentials,
                                                  std::string_view password, bool* touch_due) const {
  const CachedDevice* device = nullptr;
  for (const CachedDevice& d : credentials.devices) {
    if (d.id == login.device_id) device = &d;
  }
  if (!device || !verify_password(device->password_hash, password)) return unauthorized();
  *touch_due = clock_.now_ms() - device->last_seen_at > kLastSeenGranularityMs;
  AuthenticatedDevice authenticated{login.uuid, credentials.number, Device{}, {}};
  authenticated.device.id = device->id;
  authenticated.device.registration_id = device->registration_id;
  authenticated.device.created_at = device->created_at;
  authenticated.device.last_seen_at = device->last_seen_at;
  authenticated.account_device_ids.reserve(credentials.devices.size());
  for (const CachedDevice& d : credentials.devices) authenticated.account_device_ids.push_back(d.id);
  return authenticated;
}

std::optional<Result<AuthenticatedDevice>> AccountService::authenticate_if_cached(std::string_view username,
                                                                                  std::string_view password) {
  Result<Login> login = parse_login(username, password);
  if (!login.ok()) return Result<AuthenticatedDevice>(login.take_error());
  std::shared_ptr<const Credentials> credentials = credentials_.find(login->uuid);
  if (!credentials) return std::nullopt;
  bool touch_due = false;
  Result<AuthenticatedDevice> device = check(*login, *credentials, password, &touch_due);
  if (device.ok() && touch_due) return std::nullopt;  // recording it as seen is a storage write
  return device;
}

Result<AuthenticatedDevice> AccountService::authenticate(std::string_view username,
                                                         std::string_view password) {
  Result<Login> login = parse_login(username, password);
  if (!login.ok()) return login.take_error();
  std::shared_ptr<const Credentials> credentials = credentials_.find(login->uuid);
  if (!credentials) {
    const auto ticket = credentials_.ticket(login->uuid);
    auto account = store_.find_by_uuid(login->uuid);
    if (!account.ok()) return account.take_error();
    if (!account->has_value()) return unauthorized();
    auto read = std::make_shared<Credentials>();
    read->number = std::move((*account)->number);
    read->devices.reserve((*account)->devices.size());
    for (Device& d : (*account)->devices) {
      read->devices.push_back(
          {d.id, d.registration_id, d.created_at, d.last_seen_at, std::move(d.password_hash)});
    }
    credentials = read;
    credentials_.put(login->uuid, credentials, ticket);
  }
  bool touch_due = false;
  Result<AuthenticatedDevice> device = check(*login, *credentials, password, &touch_due);
  if (device.ok() && touch_due) {
    Status touched = store_.touch_device(login->uuid, login->device_id, clock_.now_ms());
    if (!touched.ok()) log::warn("device_last_seen_not_recorded", {{"reason", touched.error().message}});
    forget_credentials(login->uuid);  // the next call reads the new last_seen_at
  }
  return device;
}

void AccountService::forget_recovery_password(const std::string& number) {
  auto account = store_.find_by_number(number);
  if (!account.ok() || !account->has_value() || (*account)->recovery_password_record.empty()) return;
  Status cleared = store_.set_recovery_password((*account)->uuid, "");
  if (!cleared.ok()) log::warn("recovery_password_not_cleared", {{"reason", cleared.error().message}});
}

Status AccountService::delete_account(const AuthenticatedDevice& device) {
  Status deleted = store_.delete_account(device.uuid);
  forget_credentials(device.uuid);  // also when the store failed: whatever it left, read it again
  LK_RETURN_IF_ERROR(deleted);
  if (devices_removed_) devices_removed_(device.uuid, std::nullopt);
  deletions_.inc();
  log::info("account_deleted", {{"uuid", device.uuid}, {"number", log::mask_number(device.number)}});
  return {};
}

}  // namespace latchkey
