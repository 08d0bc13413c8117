// Feeds arbitrary bytes to the WebAuthn verifiers (webauthn/webauthn.h): they read attacker-controlled CBOR,
// JSON and authenticator data, and must answer an error, never crash. The input is split into the fields.
// Random bytes rarely get past the clientDataJSON and rpIdHash checks, so the input is also wrapped in valid
// client data, the right rpIdHash and a well-formed attestation object: every run reaches the authenticator
// data, COSE key, attestation statement and signature parsers.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "crypto/secret_hash.h"
#include "webauthn/webauthn.h"

namespace {

// clientDataJSON for the challenge "challenge" (base64url Y2hhbGxlbmdl) from the allowed origin.
const std::string kCreate = R"({"type":"webauthn.create","challenge":"Y2hhbGxlbmdl","origin":"http://localhost:8080"})";
const std::string kGet = R"({"type":"webauthn.get","challenge":"Y2hhbGxlbmdl","origin":"http://localhost:8080"})";

// A valid ES256 COSE_Key (the WebAuthn Level 3 none.ES256 test vector's credential key).
const std::string kCoseKey = [] {
  const unsigned char bytes[] = {
      0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20, 0xaf, 0xef, 0xa1, 0x6f, 0x97, 0xca, 0x9b, 0x2d,
      0x23, 0xeb, 0x86, 0xcc, 0xb6, 0x40, 0x98, 0xd2, 0x0d, 0xb9, 0x08, 0x56, 0x06, 0x2e, 0xb2, 0x49, 0xc3, 0x3a,
      0x9b, 0x67, 0x2f, 0x26, 0xdf, 0x61, 0x22, 0x58, 0x20, 0x93, 0x0a, 0x56, 0xb8, 0x7a, 0x2f, 0xca, 0x66, 0x33,
      0x4b, 0x03, 0x45, 0x8a, 0xbf, 0x87, 0x97, 0x17, 0xc1, 0x2c, 0xc6, 0x8e, 0xd7, 0x32, 0x90, 0xaf, 0x2e, 0x26,
      0x64, 0x79, 0x6b, 0x92, 0x20};
  return std::string(reinterpret_cast<const char*>(bytes), sizeof bytes);
}();

// {"fmt": fmt, "attStmt": <statement CBOR as given>, "authData": bytes(auth_data)}; fmt shorter than 24 bytes.
std::string attestation_object(std::string_view fmt, std::string_view statement, std::string_view auth_data) {
  std::string out = "\xa3\x63" "fmt";
  out += static_cast<char>(0x60 + fmt.size());
  out += fmt;
  out += "\x67" "attStmt";
  out += statement;
  out += "\x68" "authData\x5a";
  const auto size = static_cast<std::uint32_t>(auth_data.size());
  for (int shift = 24; shift >= 0; shift -= 8) out += static_cast<char>(size >> shift);
  out += auth_data;
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace latchkey::webauthn;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  // Fields are separated by 0xff bytes: client data, attestation object / authenticator data, signature, key.
  std::string parts[4];
  std::size_t part = 0;
  for (char c : input) {
    if (static_cast<unsigned char>(c) == 0xff && part < 3) ++part;
    else parts[part] += c;
  }
  const RelyingParty rp{"localhost", {"http://localhost:8080"}, true};
  (void)challenge_of(parts[0]);
  (void)verify_registration(rp, {parts[0], parts[1]}, "challenge");
  AssertionResponse assertion{"id", parts[0], parts[1], parts[2], ""};
  (void)verify_assertion(rp, assertion, "challenge", parts[3], 0);
  (void)verify_assertion(rp, assertion, "challenge", parts[1].substr(parts[1].size() / 2), 3);

  // Structured: valid client data and rpIdHash, the rest from the input (flags, counter, attested data, ...).
  const RelyingParty lenient{"localhost", {"http://localhost:8080"}, false};
  static const std::string rp_id_hash = latchkey::sha256("localhost");
  const std::string auth_data = rp_id_hash + parts[1];
  (void)verify_registration(lenient, {kCreate, attestation_object("none", "\xa0", auth_data)}, "challenge");
  (void)verify_registration(lenient, {kCreate, attestation_object("packed", parts[2], auth_data)}, "challenge");
  (void)verify_registration(lenient, {kCreate, parts[1]}, "challenge");
  (void)verify_assertion(lenient, {"id", kGet, auth_data, parts[2], ""}, "challenge", kCoseKey, 0);
  (void)verify_assertion(lenient, {"id", kGet, auth_data, parts[2], ""}, "challenge", parts[3], 1);
  return 0;
}
