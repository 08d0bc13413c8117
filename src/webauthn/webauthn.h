// Server-side WebAuthn verification for staff sign-in: registration (attestation "none" or packed
// self-attestation) and assertions with ES256 keys. Pure functions: no storage, no networking, no shared state,
// so every function may be called from any thread. Every input is treated as attacker-controlled.
//
// Errors: kMalformedRequest when an input cannot be decoded (JSON, CBOR, truncated or trailing authenticator
// data); kUnauthorized for every failed check, with a message naming the check ("challenge does not match",
// "origin X is not allowed", "signature does not verify", ...). Nothing throws.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace latchkey::webauthn {

struct RelyingParty {
  std::string id;                       // rp id, e.g. "localhost" or "console.example.org"
  std::vector<std::string> origins;     // exact allowed origins, e.g. "http://localhost:8080"
  bool require_user_verification = true;
};

// All byte fields are raw bytes (the caller decodes base64url).
struct RegistrationResponse {
  std::string client_data_json;
  std::string attestation_object;
};

struct NewCredential {
  std::string credential_id;     // raw
  std::string public_key_cose;   // the COSE_Key bytes as found in attested credential data (stored as is)
  std::uint32_t sign_count = 0;
  bool user_verified = false;
  std::string aaguid;            // 16 raw bytes
};

// Checks a navigator.credentials.create() response: clientDataJSON type "webauthn.create", challenge equal
// to expected_challenge (constant time), origin in rp.origins, crossOrigin not true; rpIdHash == SHA-256(rp.id),
// UP set, UV set if rp.require_user_verification, BS only with BE, AT set with attested credential data; the
// credential key is COSE EC2 P-256 ES256 on the curve; fmt "none" (empty attStmt) or "packed" self attestation
// (alg -7, no x5c, sig over authData || SHA-256(clientDataJSON) by the credential key). Anything else is refused.
Result<NewCredential> verify_registration(const RelyingParty& rp, const RegistrationResponse& response,
                                          std::string_view expected_challenge);

struct AssertionResponse {
  std::string credential_id, client_data_json, authenticator_data, signature, user_handle;  // raw
};

struct AssertionResult {
  std::uint32_t sign_count = 0;
  bool user_verified = false;
};

// Checks a navigator.credentials.get() response against the stored key and counter: type "webauthn.get",
// challenge, origin, rpIdHash, UP, UV (if required), the ES256 DER signature over
// authenticator_data || SHA-256(client_data_json), then the counter rule: when stored_sign_count or the new
// count is non-zero the new count must be strictly greater, else refused (possible cloned authenticator).
// response.credential_id and user_handle are not checked here: the caller used them to find the key.
// A stored key that is not a valid ES256 COSE_Key gives kMalformedRequest or kUnauthorized.
Result<AssertionResult> verify_assertion(const RelyingParty& rp, const AssertionResponse& response,
                                         std::string_view expected_challenge, std::string_view public_key_cose,
                                         std::uint32_t stored_sign_count);

// The challenge (raw bytes, base64url-decoded) named in a clientDataJSON, so the caller can find and consume its
// single-use challenge record before verifying. kMalformedRequest if unreadable (not a JSON object, no string
// "challenge", not base64url, empty or longer than 1024 bytes). Checks nothing else.
Result<std::string> challenge_of(std::string_view client_data_json);

}  // namespace latchkey::webauthn
