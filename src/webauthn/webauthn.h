// Server-side WebAuthn verification for staff sign-in: registration (attestation "none" or packed
// self-attestation) and assertions with ES256 keys. Pure functions: no storage, no networking.
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

Result<NewCredential> verify_registration(const RelyingParty& rp, const RegistrationResponse& response,
                                          std::string_view expected_challenge);

struct AssertionResponse {
  std::string credential_id, client_data_json, authenticator_data, signature, user_handle;  // raw
};

struct AssertionResult {
  std::uint32_t sign_count = 0;
  bool user_verified = false;
};

Result<AssertionResult> verify_assertion(const RelyingParty& rp, const AssertionResponse& response,
                                         std::string_view expected_challenge, std::string_view public_key_cose,
                                         std::uint32_t stored_sign_count);

// The challenge (raw bytes) named in a clientDataJSON. kMalformedRequest if unreadable.
Result<std::string> challenge_of(std::string_view client_data_json);

}  // namespace latchkey::webauthn
