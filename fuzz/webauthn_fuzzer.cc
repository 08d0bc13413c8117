// Feeds arbitrary bytes to the WebAuthn verifiers (webauthn/webauthn.h): they read attacker-controlled CBOR,
// JSON and authenticator data, and must answer an error, never crash. The input is split into the fields.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "webauthn/webauthn.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // Fields are separated by 0xff bytes: client data, attestation object / authenticator data, signature, key.
  std::string parts[4];
  std::size_t part = 0;
  for (char c : input) {
    if (static_cast<unsigned char>(c) == 0xff && part < 3) ++part;
    else parts[part] += c;
  }
  latchkey::webauthn::RelyingParty rp{"localhost", {"http://localhost:8080"}, true};
  (void)latchkey::webauthn::challenge_of(parts[0]);
  (void)latchkey::webauthn::verify_registration(rp, {parts[0], parts[1]}, "challenge");
  latchkey::webauthn::AssertionResponse assertion{"id", parts[0], parts[1], parts[2], ""};
  (void)latchkey::webauthn::verify_assertion(rp, assertion, "challenge", parts[3], 0);
  (void)latchkey::webauthn::verify_assertion(rp, assertion, "challenge", parts[1].substr(parts[1].size() / 2), 3);
  return 0;
}
