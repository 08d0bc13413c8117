#include "client/signal/keys.h"

#include <curve.h>
#include <key_helper.h>
#include <ratchet.h>
#include <session_builder.h>
#include <session_pre_key.h>

#include "client/signal/signal_types.h"
#include "core/encoding.h"

namespace latchkey::client {
namespace {

constexpr const char* kNextPrekeyId = "keys.next_prekey_id";
constexpr const char* kNextSignedPrekeyId = "keys.next_signed_prekey_id";
constexpr std::uint32_t kMaxKeyId = 0xFFFFFF;

Error crypto_error(std::string what, int rc) {
  return make_error(ErrorKind::kCrypto, what + " failed (libsignal " + std::to_string(rc) + ")");
}

Result<std::string> serialize_public(const ec_public_key* key) {
  SignalBuffer buffer;
  int rc = ec_public_key_serialize(buffer.out(), key);
  if (rc != 0) return crypto_error("serialising a public key", rc);
  return buffer.str();
}

Result<std::uint32_t> next_id(LocalStore& store, const char* name, std::uint32_t count) {
  auto current = store.setting(name);
  if (!current.ok()) return current.take_error();
  std::uint32_t id = 1;
  if (current->has_value()) id = static_cast<std::uint32_t>(std::strtoul((*current)->c_str(), nullptr, 10));
  if (id == 0 || id + count > kMaxKeyId) id = 1;
  std::uint32_t next = id + count;
  LK_RETURN_IF_ERROR(store.set_setting(name, std::to_string(next)));
  return id;
}

Result<SignalRef<ec_public_key>> decode_point(ProtocolContext& ctx, std::string_view raw) {
  SignalRef<ec_public_key> key;
  int rc = curve_decode_point(key.out(), bytes(raw), raw.size(), ctx.global());
  if (rc != 0) return crypto_error("decoding a public key", rc);
  return key;
}

}  // namespace

Result<IdentityKeyPair> generate_identity_key_pair(ProtocolContext& ctx) {
  SignalRef<ratchet_identity_key_pair> pair;
  int rc = signal_protocol_key_helper_generate_identity_key_pair(pair.out(), ctx.global());
  if (rc != 0) return crypto_error("generating the identity key", rc);
  IdentityKeyPair out;
  auto pub = serialize_public(ratchet_identity_key_pair_get_public(pair.get()));
  if (!pub.ok()) return pub.take_error();
  out.public_key = std::move(*pub);
  SignalBuffer priv;
  rc = ec_private_key_serialize(priv.out(), ratchet_identity_key_pair_get_private(pair.get()));
  if (rc != 0) return crypto_error("serialising the identity key", rc);
  out.private_key = priv.str();
  return out;
}

Result<std::uint32_t> generate_registration_id(ProtocolContext& ctx) {
  std::uint32_t id = 0;
  int rc = signal_protocol_key_helper_generate_registration_id(&id, 0, ctx.global());
  if (rc != 0) return crypto_error("generating a registration id", rc);
  if (id == 0) id = 1;
  return id;
}

Result<std::string> decode_public_key(const nlohmann::json& value) {
  if (!value.is_string()) return make_error(ErrorKind::kCrypto, "a public key is missing from the server's answer");
  auto raw = base64_decode(value.get<std::string>());
  if (!raw || raw->size() != 33 || (*raw)[0] != 0x05) {
    return make_error(ErrorKind::kCrypto, "the server sent a malformed public key");
  }
  return *raw;
}

Result<nlohmann::json> generate_key_upload(ProtocolContext& ctx, bool with_signed_prekey, int prekey_count) {
  const Account& account = ctx.account();
  nlohmann::json body = {{"identityKey", base64_encode(account.identity_public)}};

  if (with_signed_prekey) {
    auto pub = decode_point(ctx, account.identity_public);
    if (!pub.ok()) return pub.take_error();
    SignalRef<ec_private_key> priv;
    int rc = curve_decode_private_point(priv.out(), bytes(account.identity_private), account.identity_private.size(),
                                        ctx.global());
    if (rc != 0) return crypto_error("decoding the identity key", rc);
    SignalRef<ratchet_identity_key_pair> pair;
    rc = ratchet_identity_key_pair_create(pair.out(), pub->get(), priv.get());
    if (rc != 0) return crypto_error("loading the identity key", rc);
    auto id = next_id(ctx.store(), kNextSignedPrekeyId, 1);
    if (!id.ok()) return id.take_error();
    SignalRef<session_signed_pre_key> signed_prekey;
    rc = signal_protocol_key_helper_generate_signed_pre_key(signed_prekey.out(), pair.get(), *id,
                                                            static_cast<std::uint64_t>(now_ms()), ctx.global());
    if (rc != 0) return crypto_error("generating the signed prekey", rc);
    SignalBuffer record;
    rc = session_signed_pre_key_serialize(record.out(), signed_prekey.get());
    if (rc != 0) return crypto_error("serialising the signed prekey", rc);
    LK_RETURN_IF_ERROR(ctx.store().store_signed_prekey(*id, record.str()));
    auto spk_public = serialize_public(ec_key_pair_get_public(session_signed_pre_key_get_key_pair(signed_prekey.get())));
    if (!spk_public.ok()) return spk_public.take_error();
    std::string signature(reinterpret_cast<const char*>(session_signed_pre_key_get_signature(signed_prekey.get())),
                          session_signed_pre_key_get_signature_len(signed_prekey.get()));
    body["signedPreKey"] = {{"keyId", *id},
                            {"publicKey", base64_encode(*spk_public)},
                            {"signature", base64_encode(signature)}};
  }

  nlohmann::json prekeys = nlohmann::json::array();
  if (prekey_count > 0) {
    auto start = next_id(ctx.store(), kNextPrekeyId, static_cast<std::uint32_t>(prekey_count));
    if (!start.ok()) return start.take_error();
    signal_protocol_key_helper_pre_key_list_node* head = nullptr;
    // The helper numbers the keys start, start + 1, ... (next_id keeps them below 2^24).
    int rc = signal_protocol_key_helper_generate_pre_keys(&head, *start, static_cast<unsigned>(prekey_count),
                                                          ctx.global());
    if (rc != 0) return crypto_error("generating one-time prekeys", rc);
    Status status;
    for (auto* node = head; node && status.ok(); node = signal_protocol_key_helper_key_list_next(node)) {
      session_pre_key* prekey = signal_protocol_key_helper_key_list_element(node);
      SignalBuffer record;
      rc = session_pre_key_serialize(record.out(), prekey);
      if (rc != 0) {
        status = crypto_error("serialising a prekey", rc);
        break;
      }
      std::uint32_t id = session_pre_key_get_id(prekey);
      status = ctx.store().store_prekey(id, record.str());
      if (!status.ok()) break;
      auto pub = serialize_public(ec_key_pair_get_public(session_pre_key_get_key_pair(prekey)));
      if (!pub.ok()) {
        status = pub.take_error();
        break;
      }
      prekeys.push_back({{"keyId", id}, {"publicKey", base64_encode(*pub)}});
    }
    signal_protocol_key_helper_key_list_free(head);
    if (!status.ok()) return status.take_error();
  }
  body["preKeys"] = std::move(prekeys);
  return body;
}

Status process_bundle(ProtocolContext& ctx, std::string_view uuid, const nlohmann::json& identity_key,
                      const nlohmann::json& device) {
  auto malformed = [](const char* what) {
    return make_error(ErrorKind::kCrypto, std::string("the server sent a malformed prekey bundle (") + what + ")");
  };
  if (!device.is_object() || !device.contains("deviceId") || !device["deviceId"].is_number_integer() ||
      !device.contains("registrationId") || !device["registrationId"].is_number_integer() ||
      !device.contains("signedPreKey") || !device["signedPreKey"].is_object()) {
    return malformed("device fields");
  }
  int device_id = device["deviceId"].get<int>();
  auto registration_id = device["registrationId"].get<std::uint32_t>();
  auto identity_raw = decode_public_key(identity_key);
  if (!identity_raw.ok()) return identity_raw.take_error();
  auto identity = decode_point(ctx, *identity_raw);
  if (!identity.ok()) return identity.take_error();

  const auto& spk = device["signedPreKey"];
  if (!spk.contains("keyId") || !spk["keyId"].is_number_integer() || !spk.contains("signature") ||
      !spk["signature"].is_string()) {
    return malformed("signedPreKey");
  }
  auto spk_raw = decode_public_key(spk.value("publicKey", nlohmann::json()));
  if (!spk_raw.ok()) return spk_raw.take_error();
  auto spk_key = decode_point(ctx, *spk_raw);
  if (!spk_key.ok()) return spk_key.take_error();
  auto signature = base64_decode(spk["signature"].get<std::string>());
  if (!signature || signature->size() != 64) return malformed("signature");

  std::uint32_t prekey_id = 0;
  SignalRef<ec_public_key> prekey;
  if (device.contains("preKey") && device["preKey"].is_object()) {
    const auto& pk = device["preKey"];
    if (!pk.contains("keyId") || !pk["keyId"].is_number_integer()) return malformed("preKey");
    prekey_id = pk["keyId"].get<std::uint32_t>();
    auto pk_raw = decode_public_key(pk.value("publicKey", nlohmann::json()));
    if (!pk_raw.ok()) return pk_raw.take_error();
    auto pk_key = decode_point(ctx, *pk_raw);
    if (!pk_key.ok()) return pk_key.take_error();
    prekey = std::move(*pk_key);
  }

  SignalRef<session_pre_key_bundle> bundle;
  int rc = session_pre_key_bundle_create(bundle.out(), registration_id, device_id, prekey_id, prekey.get(),
                                         spk["keyId"].get<std::uint32_t>(), spk_key->get(), bytes(*signature),
                                         signature->size(), identity->get());
  if (rc != 0) return crypto_error("reading a prekey bundle", rc);
  std::string name(uuid);
  signal_protocol_address address{name.c_str(), name.size(), device_id};
  session_builder* builder = nullptr;
  rc = session_builder_create(&builder, ctx.stores(), &address, ctx.global());
  if (rc != 0) return crypto_error("creating a session builder", rc);
  rc = session_builder_process_pre_key_bundle(builder, bundle.get());
  session_builder_free(builder);
  if (rc == SG_ERR_INVALID_KEY) {
    return make_error(ErrorKind::kCrypto, "the prekey bundle of " + name + "." + std::to_string(device_id) +
                                              " has a bad signature");
  }
  if (rc == SG_ERR_UNTRUSTED_IDENTITY) {
    return make_error(ErrorKind::kCrypto, "the identity key of " + name + "." + std::to_string(device_id) +
                                              " is not trusted");
  }
  if (rc != 0) return crypto_error("starting a session with " + name + "." + std::to_string(device_id), rc);
  return ok_status();
}

}  // namespace latchkey::client
