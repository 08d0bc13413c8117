// The WebAuthn specification's own test vectors (Level 3, section 16 "Test Vectors": none.ES256 and
// packed-self.ES256, rp id "example.org", origin "https://example.org"), then refusals built from them.
// Every other refusal runs end to end in tests/integration/test_staff.py with a software authenticator.
#include "webauthn/webauthn.h"

#include <gtest/gtest.h>

#include "core/encoding.h"

namespace latchkey::webauthn {
namespace {

std::string hex(std::string_view text) { return *hex_decode(text); }

struct Vector {
  const char* name;
  const char* challenge;
  const char* client_data;
  const char* attestation_object;
  const char* credential_id;
  const char* aaguid;
  const char* auth_challenge;
  const char* auth_client_data;
  const char* authenticator_data;
  const char* signature;
};

const Vector kVectors[] = {
    {"none.ES256",
     "00c30fb78531c464d2b6771dab8d7b603c01162f2fa486bea70f283ae556e130",
     "7b2274797065223a22776562617574686e2e637265617465222c226368616c6c656e6765223a22414d4d507434557878475453746e63647134313759447742466938767049612d7077386f4f755657345441222c226f726967696e223a2268747470733a2f2f6578616d706c652e6f7267222c2263726f73734f726967696e223a66616c73652c22657874726144617461223a22636c69656e74446174614a534f4e206d617920626520657874656e6465642077697468206164646974696f6e616c206669656c647320696e20746865206675747572652c207375636820617320746869733a20426b5165446a646354427258426941774a544c453551227d",
     "a363666d74646e6f6e656761747453746d74a068617574684461746158a4bfabc37432958b063360d3ad6461c9c4735ae7f8edd46592a5e0f01452b2e4b559000000008446ccb9ab1db374750b2367ff6f3a1f0020f91f391db4c9b2fde0ea70189cba3fb63f579ba6122b33ad94ff3ec330084be4a5010203262001215820afefa16f97ca9b2d23eb86ccb64098d20db90856062eb249c33a9b672f26df61225820930a56b87a2fca66334b03458abf879717c12cc68ed73290af2e2664796b9220",
     "f91f391db4c9b2fde0ea70189cba3fb63f579ba6122b33ad94ff3ec330084be4",
     "8446ccb9ab1db374750b2367ff6f3a1f",
     "39c0e7521417ba54d43e8dc95174f423dee9bf3cd804ff6d65c857c9abf4d408",
     "7b2274797065223a22776562617574686e2e676574222c226368616c6c656e6765223a224f63446e55685158756c5455506f334a5558543049393770767a7a59425039745a63685879617630314167222c226f726967696e223a2268747470733a2f2f6578616d706c652e6f7267222c2263726f73734f726967696e223a66616c73657d",
     "bfabc37432958b063360d3ad6461c9c4735ae7f8edd46592a5e0f01452b2e4b51900000000",
     "3046022100f50a4e2e4409249c4a853ba361282f09841df4dd4547a13a87780218deffcd380221008480ac0f0b93538174f575bf11a1dd5d78c6e486013f937295ea13653e331e87"},
    {"packed-self.ES256",
     "7869c2b772d4b58eba9378cf8f29e26cf935aa77df0da89fa99c0bdc0a76f7e5",
     "7b2274797065223a22776562617574686e2e637265617465222c226368616c6c656e6765223a2265476e4374334c55745936366b336a506a796e6962506b31716e666644616966715a774c33417032392d55222c226f726967696e223a2268747470733a2f2f6578616d706c652e6f7267222c2263726f73734f726967696e223a66616c73652c22657874726144617461223a22636c69656e74446174614a534f4e206d617920626520657874656e6465642077697468206164646974696f6e616c206669656c647320696e20746865206675747572652c207375636820617320746869733a205539685458764b453255526b4d6e625f307859485667227d",
     "a363666d74667061636b65646761747453746d74a263616c672663736967584630440220067a20754ab925005dbf378097c92120031581c73228d1fb4f5b881bcd7da98302207fc7b147558c7c0eba3af18bd9d121fa3d3a26d17fe3f220272178f473b6006d68617574684461746158a4bfabc37432958b063360d3ad6461c9c4735ae7f8edd46592a5e0f01452b2e4b55d00000000df850e09db6afbdfab51697791506cfc0020455ef34e2043a87db3d4afeb39bbcb6cc32df9347c789a865ecdca129cbef58ca5010203262001215820eb151c8176b225cc651559fecf07af450fd85802046656b34c18f6cf193843c5225820927b8aa427a2be1b8834d233a2d34f61f13bfd44119c325d5896e183fee484f2",
     "455ef34e2043a87db3d4afeb39bbcb6cc32df9347c789a865ecdca129cbef58c",
     "df850e09db6afbdfab51697791506cfc",
     "4478a10b1352348dd160c1353b0d469b5db19eb91c27f7dfa6fed39fe26af20b",
     "7b2274797065223a22776562617574686e2e676574222c226368616c6c656e6765223a225248696843784e534e493352594d45314f7731476d3132786e726b634a5f6666707637546e2d4a71386773222c226f726967696e223a2268747470733a2f2f6578616d706c652e6f7267222c2263726f73734f726967696e223a66616c73652c22657874726144617461223a22636c69656e74446174614a534f4e206d617920626520657874656e6465642077697468206164646974696f6e616c206669656c647320696e20746865206675747572652c207375636820617320746869733a206754623533727a36456853576f6d58477a696d433151227d",
     "bfabc37432958b063360d3ad6461c9c4735ae7f8edd46592a5e0f01452b2e4b50900000000",
     "304402203310b9431903c401f1be2bdc8d23a4007682dbbddcf846994947b7f465daf84002204e94dd00047b316061b3b99772b7efd95994a83ef584b3b6b825ea3550251b66"},
};

// The vectors' authenticators do not always set UV (none.ES256 never does): checked separately below.
RelyingParty example_org(bool require_uv = false) { return {"example.org", {"https://example.org"}, require_uv}; }

AssertionResponse assertion_of(const Vector& v) {
  return {hex(v.credential_id), hex(v.auth_client_data), hex(v.authenticator_data), hex(v.signature), ""};
}

class SpecVectorTest : public ::testing::TestWithParam<Vector> {};

TEST_P(SpecVectorTest, RegistrationAndAuthenticationVerify) {
  const Vector& v = GetParam();
  auto credential = verify_registration(example_org(), {hex(v.client_data), hex(v.attestation_object)}, hex(v.challenge));
  ASSERT_TRUE(credential.ok()) << v.name << ": " << credential.error().message;
  EXPECT_EQ(credential->credential_id, hex(v.credential_id));
  EXPECT_EQ(credential->aaguid, hex(v.aaguid));
  EXPECT_EQ(credential->sign_count, 0u);
  auto challenge = challenge_of(hex(v.auth_client_data));
  ASSERT_TRUE(challenge.ok());
  EXPECT_EQ(*challenge, hex(v.auth_challenge));

  auto result = verify_assertion(example_org(), assertion_of(v), hex(v.auth_challenge), credential->public_key_cose, 0);
  ASSERT_TRUE(result.ok()) << v.name << ": " << result.error().message;
  EXPECT_EQ(result->sign_count, 0u);
}

TEST_P(SpecVectorTest, TamperedVectorsAreRefused) {
  const Vector& v = GetParam();
  auto credential = verify_registration(example_org(), {hex(v.client_data), hex(v.attestation_object)}, hex(v.challenge));
  ASSERT_TRUE(credential.ok());
  const std::string key = credential->public_key_cose;

  // Another rp id, another origin, another challenge.
  RelyingParty other_rp{"example.com", {"https://example.org"}, false};
  EXPECT_EQ(verify_assertion(other_rp, assertion_of(v), hex(v.auth_challenge), key, 0).error().code,
            ErrorCode::kUnauthorized);
  RelyingParty other_origin{"example.org", {"https://login.example.org"}, false};
  auto wrong_origin = verify_assertion(other_origin, assertion_of(v), hex(v.auth_challenge), key, 0);
  ASSERT_FALSE(wrong_origin.ok());
  EXPECT_NE(wrong_origin.error().message.find("origin"), std::string::npos);
  EXPECT_FALSE(verify_assertion(example_org(), assertion_of(v), hex(v.challenge), key, 0).ok());
  // One bit of the signature, of the authenticator data, of the client data.
  for (auto field : {&AssertionResponse::signature, &AssertionResponse::authenticator_data,
                     &AssertionResponse::client_data_json}) {
    AssertionResponse bad = assertion_of(v);
    (bad.*field)[(bad.*field).size() - 2] ^= 0x01;
    EXPECT_FALSE(verify_assertion(example_org(), bad, hex(v.auth_challenge), key, 0).ok());
  }
  // A counter that does not move forward once the authenticator has counted.
  EXPECT_FALSE(verify_assertion(example_org(), assertion_of(v), hex(v.auth_challenge), key, 5).ok());
  // The vectors' assertions lack UV: refused where user verification is required.
  auto no_uv = verify_assertion(example_org(true), assertion_of(v), hex(v.auth_challenge), key, 0);
  ASSERT_FALSE(no_uv.ok());
  EXPECT_NE(no_uv.error().message.find("user verification"), std::string::npos);
  // The registration checked against a challenge it was not made for.
  EXPECT_FALSE(verify_registration(example_org(), {hex(v.client_data), hex(v.attestation_object)}, hex(v.auth_challenge)).ok());
  // Truncated attestation objects are malformed, never a crash.
  const std::string object = hex(v.attestation_object);
  for (std::size_t n = 0; n < object.size(); n += 7)
    EXPECT_FALSE(verify_registration(example_org(), {hex(v.client_data), object.substr(0, n)}, hex(v.challenge)).ok());
}

INSTANTIATE_TEST_SUITE_P(WebAuthnLevel3, SpecVectorTest, ::testing::ValuesIn(kVectors),
                         [](const auto& info) { return std::string(info.param.name[0] == 'n' ? "NoneES256" : "PackedSelfES256"); });

}  // namespace
}  // namespace latchkey::webauthn
