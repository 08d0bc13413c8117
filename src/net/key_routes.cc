// Keys and discovery (docs/api.md, "Keys, devices and the message relay").
#include <charconv>

#include "core/encoding.h"
#include "core/phone_number.h"
#include "net/api_routes.h"
#include "net/request_parsing.h"

namespace latchkey {
namespace {

constexpr std::int64_t kMaxKeyId = 0xFFFFFF;

Result<std::uint32_t> key_id(const nlohmann::json& object, const std::string& path) {
  auto id = required_integer(object, path, "keyId");
  if (!id.ok()) return id.take_error();
  if (*id < 0 || *id > kMaxKeyId)
    return make_error(ErrorCode::kMalformedRequest, path + ".keyId must be 0 to " + std::to_string(kMaxKeyId));
  return static_cast<std::uint32_t>(*id);
}

Result<std::string> key_bytes(const nlohmann::json& object, const std::string& path, const char* key,
                              std::size_t max_bytes) {
  auto it = object.find(key);
  return decode_base64(it == object.end() ? nlohmann::json() : *it, path.empty() ? key : path + "." + key, max_bytes);
}

Result<KeyUpload> parse_upload(const HttpRequest& request) {
  auto body = parse_json_object(request.body);
  if (!body.ok()) return body.take_error();
  KeyUpload upload;
  auto identity = key_bytes(*body, "", "identityKey", 33);
  if (!identity.ok()) return identity.take_error();
  upload.identity_key = std::move(*identity);
  if (auto it = body->find("signedPreKey"); it != body->end() && !it->is_null()) {
    if (!it->is_object()) return make_error(ErrorCode::kMalformedRequest, "signedPreKey must be an object");
    SignedPreKey spk;
    auto id = key_id(*it, "signedPreKey");
    if (!id.ok()) return id.take_error();
    auto pub = key_bytes(*it, "signedPreKey", "publicKey", 33);
    if (!pub.ok()) return pub.take_error();
    auto sig = key_bytes(*it, "signedPreKey", "signature", 64);
    if (!sig.ok()) return sig.take_error();
    upload.signed_prekey = SignedPreKey{*id, std::move(*pub), std::move(*sig)};
  }
  if (auto it = body->find("preKeys"); it != body->end() && !it->is_null()) {
    if (!it->is_array()) return make_error(ErrorCode::kMalformedRequest, "preKeys must be an array");
    if (it->size() > 100000) return make_error(ErrorCode::kMalformedRequest, "preKeys holds too many keys");
    for (std::size_t i = 0; i < it->size(); ++i) {
      std::string path = "preKeys[" + std::to_string(i) + "]";
      const nlohmann::json& k = (*it)[i];
      if (!k.is_object()) return make_error(ErrorCode::kMalformedRequest, path + " must be an object");
      auto id = key_id(k, path);
      if (!id.ok()) return id.take_error();
      auto pub = key_bytes(k, path, "publicKey", 33);
      if (!pub.ok()) return pub.take_error();
      upload.prekeys.push_back(PreKey{*id, std::move(*pub)});
    }
  }
  return upload;
}

nlohmann::json bundles_json(const AccountBundles& bundles) {
  nlohmann::json devices = nlohmann::json::array();
  for (const DeviceBundle& d : bundles.devices) {
    nlohmann::json device = {{"deviceId", d.device_id},
                             {"registrationId", d.registration_id},
                             {"signedPreKey",
                              {{"keyId", d.signed_prekey.key_id},
                               {"publicKey", base64_encode(d.signed_prekey.public_key)},
                               {"signature", base64_encode(d.signed_prekey.signature)}}}};
    if (d.prekey)
      device["preKey"] = {{"keyId", d.prekey->key_id}, {"publicKey", base64_encode(d.prekey->public_key)}};
    devices.push_back(std::move(device));
  }
  return {{"identityKey", base64_encode(bundles.identity_key)}, {"devices", std::move(devices)}};
}

}  // namespace

void add_key_routes(Router& router, AccountService& accounts, KeyService& keys) {
  router.add("PUT", "/v2/keys", HandlerPool::kWorker, [&accounts, &keys](HttpRequest& request) {
    auto device = authenticate_device(accounts, request);
    if (!device.ok()) return HttpResponse::error(device.error());
    auto upload = parse_upload(request);
    if (!upload.ok()) return HttpResponse::error(upload.error());
    Status stored = keys.upload(device->uuid, device->device.id, std::move(*upload));
    return stored.ok() ? HttpResponse::no_content() : HttpResponse::error(stored.error());
  });

  router.add("GET", "/v2/keys", HandlerPool::kWorker, [&accounts, &keys](HttpRequest& request) {
    auto device = authenticate_device(accounts, request);
    if (!device.ok()) return HttpResponse::error(device.error());
    auto count = keys.prekey_count(device->uuid, device->device.id);
    if (!count.ok()) return HttpResponse::error(count.error());
    return HttpResponse::json(200, {{"count", *count}});
  });

  router.add("GET", "/v2/keys/{uuid}/{deviceId}", HandlerPool::kWorker, [&accounts, &keys](HttpRequest& request) {
    auto device = authenticate_device(accounts, request);
    if (!device.ok()) return HttpResponse::error(device.error());
    const std::string& target = request.path_params[0];
    const std::string& which = request.path_params[1];
    std::optional<std::uint32_t> device_id;
    if (which != "*") {
      std::uint32_t id = 0;
      auto [end, ec] = std::from_chars(which.data(), which.data() + which.size(), id);
      if (ec != std::errc() || end != which.data() + which.size() || id == 0)
        return HttpResponse::error(make_error(ErrorCode::kMalformedRequest, "deviceId must be a device id or *"));
      device_id = id;
    }
    if (target.size() != 36) return HttpResponse::error(make_error(ErrorCode::kNotFound, "no such account"));
    auto bundles = keys.bundles(device->uuid, target, device_id);
    if (!bundles.ok()) return HttpResponse::error(bundles.error());
    return HttpResponse::json(200, bundles_json(*bundles));
  });

  router.add("GET", "/v1/directory/{number}", HandlerPool::kWorker, [&accounts, &keys](HttpRequest& request) {
    auto device = authenticate_device(accounts, request);
    if (!device.ok()) return HttpResponse::error(device.error());
    std::string text = request.path_params[0];
    if (text.rfind("%2B", 0) == 0 || text.rfind("%2b", 0) == 0) text = "+" + text.substr(3);  // an encoded '+'
    auto number = parse_phone_number(text);
    if (!number.ok()) return HttpResponse::error(number.error());
    auto uuid = keys.discover(device->uuid, number->e164);
    if (!uuid.ok()) return HttpResponse::error(uuid.error());
    return HttpResponse::json(200, {{"uuid", *uuid}});
  });
}

}  // namespace latchkey
