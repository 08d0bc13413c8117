#include "lock/registration_lock.h"

#include <algorithm>
#include <charconv>

#include "core/encoding.h"
#include "core/logging.h"
#include "crypto/secret_hash.h"

namespace latchkey {
namespace {

constexpr char kUsernamePrefix[] = "backup-";

Result<std::string> decode_token(const std::string& token_hex) {
  auto token = hex_decode(token_hex);
  if (!token || token->size() != RegistrationLockService::kTokenBytes)
    return make_error(ErrorCode::kMalformedRequest, "registrationLock must be 64 hexadecimal characters");
  return *token;
}

}  // namespace

bool is_registration_lock_token(const std::string& token_hex) { return decode_token(token_hex).ok(); }

RegistrationLockService::RegistrationLockService(const AccountsConfig& config, AccountStore& accounts,
                                                 NoticeStore& notices, Limits& limits, const Clock& clock,
                                                 Random& random, MetricsRegistry& metrics, std::string credentials_key)
    : config_(config),
      accounts_(accounts),
      notices_(notices),
      limits_(limits),
      clock_(clock),
      random_(random),
      credentials_key_(std::move(credentials_key)),
      failures_(metrics.counter("latchkey_registration_lock_failures_total",
                                "Registrations refused by Registration Lock")) {}

Status RegistrationLockService::set(const std::string& account_uuid, const std::string& token_hex) {
  auto token = decode_token(token_hex);
  if (!token.ok()) return token.take_error();
  return accounts_.set_registration_lock(account_uuid, hash_password(random_, *token));
}

Status RegistrationLockService::clear(const std::string& account_uuid) {
  return accounts_.set_registration_lock(account_uuid, "");
}

Status RegistrationLockService::check(const Account& existing, const std::optional<std::string>& token_hex) {
  if (existing.registration_lock_record.empty()) return {};
  EpochMillis now = clock_.now_ms();
  EpochMillis last_seen = 0;
  for (const Device& d : existing.devices) last_seen = std::max(last_seen, d.last_seen_at);
  EpochMillis lapses_at = last_seen + config_.registration_lock_window.count();
  if (lapses_at <= now) return {};  // the owner has been away long enough: the lock lapsed

  if (token_hex) {
    auto token = decode_token(*token_hex);
    if (!token.ok()) return token.take_error();
    if (verify_password(existing.registration_lock_record, *token)) return {};
  }
  LK_RETURN_IF_ERROR(limits_.check(Limit::kRegistrationLockPerNumber, existing.number, now));
  failures_.inc();
  nlohmann::json details = {{"time", now}, {"tokenPresented", token_hex.has_value()}};
  auto notice = notices_.add(existing.uuid, "registration_lock_failure", details.dump(), now);
  if (!notice.ok()) log::warn("notice_not_recorded", {{"uuid", existing.uuid}, {"reason", notice.error().message}});
  log::warn("registration_lock_refused", {{"uuid", existing.uuid},
                                         {"number", log::mask_number(existing.number)},
                                         {"token_presented", token_hex.has_value()}});
  BackupCredentials credentials = issue_backup_credentials(existing.uuid, now);
  Error e = make_error(ErrorCode::kRegistrationLocked,
                       "this number is protected by Registration Lock: send accountAttributes.registrationLock");
  e.details = {{"timeRemaining", lapses_at - now},
               {"backupCredentials", {{"username", credentials.username}, {"password", credentials.password}}}};
  return e;
}

bool RegistrationLockService::token_matches(const Account& existing, const std::string& token_hex) const {
  auto token = decode_token(token_hex);
  return token.ok() && !existing.registration_lock_record.empty() &&
         verify_password(existing.registration_lock_record, *token);
}

std::string RegistrationLockService::credential_mac(const std::string& account_uuid, EpochMillis expiry) const {
  return base64url_encode(keyed_hash(credentials_key_, "backup-credentials\n" + account_uuid, std::to_string(expiry)));
}

BackupCredentials RegistrationLockService::issue_backup_credentials(const std::string& account_uuid,
                                                                   EpochMillis now) const {
  EpochMillis expiry = now + config_.backup_credentials_ttl.count();
  return {kUsernamePrefix + account_uuid, std::to_string(expiry) + "." + credential_mac(account_uuid, expiry)};
}

std::optional<std::string> RegistrationLockService::verify_backup_credentials(const std::string& username,
                                                                             const std::string& password,
                                                                             EpochMillis now) const {
  const std::string prefix = kUsernamePrefix;
  if (username.size() != prefix.size() + 36 || username.compare(0, prefix.size(), prefix) != 0) return std::nullopt;
  std::string uuid = username.substr(prefix.size());
  auto dot = password.find('.');
  if (dot == std::string::npos || dot == 0 || dot > 20) return std::nullopt;
  EpochMillis expiry = 0;
  auto [end, ec] = std::from_chars(password.data(), password.data() + dot, expiry);
  if (ec != std::errc() || end != password.data() + dot || expiry <= now) return std::nullopt;
  if (!constant_time_equal(password.substr(dot + 1), credential_mac(uuid, expiry))) return std::nullopt;
  return uuid;
}

}  // namespace latchkey
