#include "keys/key_service.h"

#include "keys/xeddsa.h"

namespace latchkey {
namespace {

constexpr unsigned char kDjbType = 0x05;  // the Signal Protocol's type byte for Curve25519 public keys

Status check_public_key(const std::string& key, const std::string& field) {
  if (key.size() != 33 || static_cast<unsigned char>(key[0]) != kDjbType)
    return make_error(ErrorCode::kMalformedRequest, field + " must be a 33-byte public key starting 0x05");
  return {};
}

}  // namespace

KeyService::KeyService(const KeysConfig& config, Storage& storage, Limits& limits, const Clock& clock)
    : config_(config), storage_(storage), limits_(limits), clock_(clock) {}

Status KeyService::upload(const std::string& uuid, std::uint32_t device_id, KeyUpload upload) {
  LK_RETURN_IF_ERROR(check_public_key(upload.identity_key, "identityKey"));
  if (upload.signed_prekey) {
    LK_RETURN_IF_ERROR(check_public_key(upload.signed_prekey->public_key, "signedPreKey.publicKey"));
    if (upload.signed_prekey->signature.size() != 64)
      return make_error(ErrorCode::kMalformedRequest, "signedPreKey.signature must be 64 bytes");
    if (!verify_xeddsa(upload.identity_key, upload.signed_prekey->public_key, upload.signed_prekey->signature))
      return make_error(ErrorCode::kMalformedRequest, "signedPreKey.signature does not verify");
  }
  if (upload.prekeys.size() > config_.max_prekeys_per_upload)
    return make_error(ErrorCode::kMalformedRequest,
                      "preKeys holds more than " + std::to_string(config_.max_prekeys_per_upload) + " keys");
  for (std::size_t i = 0; i < upload.prekeys.size(); ++i)
    LK_RETURN_IF_ERROR(check_public_key(upload.prekeys[i].public_key, "preKeys[" + std::to_string(i) + "].publicKey"));
  LK_RETURN_IF_ERROR(limits_.check(Limit::kKeysUploadPerDevice, uuid + "." + std::to_string(device_id), clock_.now_ms()));
  upload.may_set_identity = device_id == 1;
  return storage_.keys().store(uuid, device_id, upload, config_.max_stored_prekeys);
}

Result<std::size_t> KeyService::prekey_count(const std::string& uuid, std::uint32_t device_id) {
  return storage_.keys().count_prekeys(uuid, device_id);
}

Result<AccountBundles> KeyService::bundles(const std::string& requester_uuid, const std::string& target_uuid,
                                           std::optional<std::uint32_t> device_id) {
  if (requester_uuid != target_uuid)
    LK_RETURN_IF_ERROR(limits_.check(Limit::kPrekeyLookupPerRequester, requester_uuid, clock_.now_ms()));
  Result<AccountBundles> found = storage_.keys().take_bundles(target_uuid, device_id);
  if (!found.ok()) return found;
  if (found->devices.empty()) return make_error(ErrorCode::kNotFound, "no keys for this account or device");
  return found;
}

Result<std::string> KeyService::discover(const std::string& requester_uuid, const std::string& number) {
  EpochMillis now = clock_.now_ms();
  LK_RETURN_IF_ERROR(limits_.check(Limit::kDirectoryPerRequester, requester_uuid, now));
  LK_RETURN_IF_ERROR(limits_.check(Limit::kDirectoryPerTarget, number, now));
  Result<std::optional<Account>> account = storage_.accounts().find_by_number(number);
  if (!account.ok()) return account.take_error();
  if (!account->has_value()) return make_error(ErrorCode::kNotFound, "no account is registered to this number");
  return (*account)->uuid;
}

}  // namespace latchkey
