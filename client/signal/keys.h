// Key material of a device: identity key pair, registration id, signed and one-time prekeys (their private
// halves go to the local store, the public halves into a PUT /v2/keys body), and sessions built from the
// prekey bundles the server hands out (GET /v2/keys/{uuid}/{deviceId}).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "client/core/result.h"
#include "client/signal/protocol_context.h"

namespace latchkey::client {

struct IdentityKeyPair {
  std::string public_key;   // 33 bytes, 0x05 + Curve25519 key
  std::string private_key;  // 32 bytes
};

// kCrypto on a libsignal failure.
Result<IdentityKeyPair> generate_identity_key_pair(ProtocolContext& ctx);
// 1..16380, as the server requires (1..16383).
Result<std::uint32_t> generate_registration_id(ProtocolContext& ctx);

// Generates (when with_signed_prekey) a new signed prekey signed by the context's identity key and
// `prekey_count` one-time prekeys, stores their private parts, and answers the PUT /v2/keys body
// {"identityKey", "signedPreKey"?, "preKeys"}. Prekey ids continue from the last batch (kept in the store).
Result<nlohmann::json> generate_key_upload(ProtocolContext& ctx, bool with_signed_prekey, int prekey_count);

// Builds (or replaces) the session with `uuid`.deviceId from one entry of a bundle answer:
// `identity_key` is the answer's "identityKey", `device` one element of its "devices". kCrypto when the
// bundle is malformed or its signature does not verify (libsignal checks it).
Status process_bundle(ProtocolContext& ctx, std::string_view uuid, const nlohmann::json& identity_key,
                      const nlohmann::json& device);

// Decodes a base64 33-byte public key; kCrypto when it is not one.
Result<std::string> decode_public_key(const nlohmann::json& value);

}  // namespace latchkey::client
