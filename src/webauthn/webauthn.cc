#include "webauthn/webauthn.h"

#include <cbor.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "core/encoding.h"
#include "crypto/secret_hash.h"

namespace latchkey::webauthn {
namespace {

constexpr std::uint8_t kFlagUserPresent = 0x01;
constexpr std::uint8_t kFlagUserVerified = 0x04;
constexpr std::uint8_t kFlagBackupEligible = 0x08;
constexpr std::uint8_t kFlagBackupState = 0x10;
constexpr std::uint8_t kFlagAttestedData = 0x40;
constexpr std::uint8_t kFlagExtensions = 0x80;
constexpr std::size_t kMaxCredentialId = 1023;
constexpr std::size_t kMaxEchoedText = 100;  // attacker text quoted in an error message is cut to this

Error malformed(std::string message) { return make_error(ErrorCode::kMalformedRequest, std::move(message)); }
Error refused(std::string message) { return make_error(ErrorCode::kUnauthorized, std::move(message)); }
// At most kMaxEchoedText bytes of `text`, never cut inside a UTF-8 sequence (messages end up in JSON).
std::string echo(std::string_view text) {
  if (text.size() <= kMaxEchoedText) return std::string(text);
  std::size_t end = kMaxEchoedText;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xc0) == 0x80) --end;
  return std::string(text.substr(0, end));
}

std::string sha256_of(std::string_view bytes) { return sha256(bytes); }

// ---- CBOR helpers (libcbor) ----

struct CborDeleter {
  void operator()(cbor_item_t* item) const { cbor_decref(&item); }
};
using CborItem = std::unique_ptr<cbor_item_t, CborDeleter>;

// The size of the first CBOR item in `bytes` if every length it declares fits in the bytes that follow, else
// nullopt. libcbor 0.8 allocates a declared map or array before reading it, so "a map of 2^32 pairs" in a few
// bytes would ask for gigabytes: this walk runs first. Definite lengths only (WebAuthn uses CTAP2 canonical
// CBOR); nesting at most 16 deep.
std::optional<std::size_t> cbor_item_size(std::string_view bytes, int depth = 0) {
  if (bytes.empty() || depth > 16) return std::nullopt;
  const auto initial = static_cast<std::uint8_t>(bytes[0]);
  const int major = initial >> 5;
  const int info = initial & 0x1f;
  std::size_t pos = 1;
  std::uint64_t value = info;
  if (info >= 24 && info <= 27) {
    const std::size_t n = std::size_t(1) << (info - 24);
    if (bytes.size() < 1 + n) return std::nullopt;
    value = 0;
    for (std::size_t i = 0; i < n; ++i) value = (value << 8) | static_cast<std::uint8_t>(bytes[1 + i]);
    pos += n;
  } else if (info > 27) {
    return std::nullopt;  // reserved, or an indefinite length
  }
  const std::size_t left = bytes.size() - pos;
  switch (major) {
    case 0:
    case 1:
    case 7:
      return pos;
    case 2:
    case 3:
      if (value > left) return std::nullopt;
      return pos + static_cast<std::size_t>(value);
    case 6: {
      auto inner = cbor_item_size(bytes.substr(pos), depth + 1);
      if (!inner) return std::nullopt;
      return pos + *inner;
    }
    case 4:
    case 5: {
      const std::uint64_t items = major == 5 ? value * 2 : value;
      if (value > left || items > left) return std::nullopt;  // each item takes at least one byte
      for (std::uint64_t i = 0; i < items; ++i) {
        auto inner = cbor_item_size(bytes.substr(pos), depth + 1);
        if (!inner) return std::nullopt;
        pos += *inner;
      }
      return pos;
    }
  }
  return std::nullopt;
}

// One CBOR item from the front of `bytes`; `used` is how many bytes it took.
std::optional<CborItem> load_cbor(std::string_view bytes, std::size_t* used) {
  if (bytes.empty()) return std::nullopt;
  auto size = cbor_item_size(bytes);
  if (!size) return std::nullopt;
  bytes = bytes.substr(0, *size);
  cbor_load_result result{};
  cbor_item_t* item = cbor_load(reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size(), &result);
  if (item == nullptr || result.error.code != CBOR_ERR_NONE) {
    if (item != nullptr) cbor_decref(&item);
    return std::nullopt;
  }
  *used = result.read;
  return CborItem(item);
}

std::optional<std::int64_t> cbor_integer(const cbor_item_t* item) {
  if (cbor_isa_uint(item)) {
    std::uint64_t v = cbor_get_int(item);
    if (v > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    return static_cast<std::int64_t>(v);
  }
  if (cbor_isa_negint(item)) {
    std::uint64_t v = cbor_get_int(item);
    if (v > static_cast<std::uint64_t>(INT64_MAX)) return std::nullopt;
    return -1 - static_cast<std::int64_t>(v);
  }
  return std::nullopt;
}

std::optional<std::string> cbor_text(const cbor_item_t* item) {
  if (!cbor_isa_string(item) || !cbor_string_is_definite(item)) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(cbor_string_handle(item)), cbor_string_length(item));
}

std::optional<std::string> cbor_bytes(const cbor_item_t* item) {
  if (!cbor_isa_bytestring(item) || !cbor_bytestring_is_definite(item)) return std::nullopt;
  return std::string(reinterpret_cast<const char*>(cbor_bytestring_handle(item)), cbor_bytestring_length(item));
}

// The value for a text key (attestation objects) or an integer key (COSE keys) of a definite map, or nullptr.
const cbor_item_t* map_get_text(const cbor_item_t* map, std::string_view key) {
  if (!cbor_isa_map(map) || !cbor_map_is_definite(map)) return nullptr;
  const cbor_pair* pairs = cbor_map_handle(map);
  for (std::size_t i = 0; i < cbor_map_size(map); ++i)
    if (auto k = cbor_text(pairs[i].key); k && *k == key) return pairs[i].value;
  return nullptr;
}

const cbor_item_t* map_get_int(const cbor_item_t* map, std::int64_t key) {
  if (!cbor_isa_map(map) || !cbor_map_is_definite(map)) return nullptr;
  const cbor_pair* pairs = cbor_map_handle(map);
  for (std::size_t i = 0; i < cbor_map_size(map); ++i)
    if (auto k = cbor_integer(pairs[i].key); k && *k == key) return pairs[i].value;
  return nullptr;
}

// ---- keys and signatures (OpenSSL 3) ----

struct PkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using Pkey = std::unique_ptr<EVP_PKEY, PkeyDeleter>;

// An ES256 public key from a COSE_Key: kty 2 (EC2), alg -7 (ES256), crv 1 (P-256), 32-byte x and y, on the curve.
Result<Pkey> es256_key(std::string_view cose) {
  std::size_t used = 0;
  auto key = load_cbor(cose, &used);
  if (!key || used != cose.size() || !cbor_isa_map(key->get()))
    return malformed("the credential public key is not one CBOR map");
  const cbor_item_t* map = key->get();
  auto kty = map_get_int(map, 1) ? cbor_integer(map_get_int(map, 1)) : std::nullopt;
  auto alg = map_get_int(map, 3) ? cbor_integer(map_get_int(map, 3)) : std::nullopt;
  auto crv = map_get_int(map, -1) ? cbor_integer(map_get_int(map, -1)) : std::nullopt;
  auto x = map_get_int(map, -2) ? cbor_bytes(map_get_int(map, -2)) : std::nullopt;
  auto y = map_get_int(map, -3) ? cbor_bytes(map_get_int(map, -3)) : std::nullopt;
  if (kty != 2) return refused("the credential key is not an EC2 key (only ES256 is accepted)");
  if (alg != -7) return refused("the credential key's algorithm is not ES256 (-7)");
  if (crv != 1) return refused("the credential key's curve is not P-256");
  if (!x || !y || x->size() != 32 || y->size() != 32) return refused("the credential key's x and y must be 32 bytes");

  std::string point = std::string(1, '\x04') + *x + *y;
  char group[] = "prime256v1";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
      OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, point.data(), point.size()),
      OSSL_PARAM_construct_end(),
  };
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(EVP_PKEY_CTX_new_from_name(nullptr, "EC", nullptr),
                                                                  EVP_PKEY_CTX_free);
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_fromdata_init(ctx.get()) != 1 ||
      EVP_PKEY_fromdata(ctx.get(), &raw, EVP_PKEY_PUBLIC_KEY, params) != 1 || raw == nullptr)
    return refused("the credential key is not a point on P-256");
  Pkey pkey(raw);
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> check(EVP_PKEY_CTX_new_from_pkey(nullptr, raw, nullptr),
                                                                    EVP_PKEY_CTX_free);
  if (!check || EVP_PKEY_public_check(check.get()) != 1) return refused("the credential key is not a point on P-256");
  return pkey;
}

bool es256_verifies(EVP_PKEY* key, std::string_view signed_data, std::string_view der_signature) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, EVP_sha256(), nullptr, key) != 1) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(der_signature.data()),
                          der_signature.size(), reinterpret_cast<const unsigned char*>(signed_data.data()),
                          signed_data.size()) == 1;
}

// ---- client data and authenticator data ----

Status check_client_data(const RelyingParty& rp, std::string_view client_data_json, std::string_view type,
                         std::string_view expected_challenge) {
  auto data = nlohmann::json::parse(client_data_json, nullptr, false);
  if (data.is_discarded() || !data.is_object()) return malformed("clientDataJSON is not a JSON object");
  auto field = [&](const char* name) -> std::optional<std::string> {
    auto it = data.find(name);
    if (it == data.end() || !it->is_string()) return std::nullopt;
    return it->get<std::string>();
  };
  auto got_type = field("type");
  auto challenge = field("challenge");
  auto origin = field("origin");
  if (!got_type || !challenge || !origin) return malformed("clientDataJSON lacks type, challenge or origin");
  if (*got_type != type) return refused("clientDataJSON type is " + echo(*got_type) + ", expected " + std::string(type));
  auto decoded = base64url_decode(*challenge);
  if (!decoded || !constant_time_equal(*decoded, expected_challenge)) return refused("challenge does not match");
  bool allowed = false;
  for (const auto& o : rp.origins) allowed = allowed || o == *origin;
  if (!allowed) return refused("origin " + echo(*origin) + " is not allowed");
  if (auto cross = data.find("crossOrigin"); cross != data.end() && cross->is_boolean() && cross->get<bool>())
    return refused("cross-origin requests are not allowed");
  return {};
}

struct AuthenticatorData {
  std::string rp_id_hash;
  std::uint8_t flags = 0;
  std::uint32_t sign_count = 0;
  std::string aaguid;
  std::string credential_id;
  std::string public_key_cose;
};

Result<AuthenticatorData> parse_authenticator_data(std::string_view bytes) {
  if (bytes.size() < 37) return malformed("authenticator data is shorter than 37 bytes");
  AuthenticatorData out;
  out.rp_id_hash = std::string(bytes.substr(0, 32));
  out.flags = static_cast<std::uint8_t>(bytes[32]);
  out.sign_count = (std::uint32_t(std::uint8_t(bytes[33])) << 24) | (std::uint32_t(std::uint8_t(bytes[34])) << 16) |
                   (std::uint32_t(std::uint8_t(bytes[35])) << 8) | std::uint32_t(std::uint8_t(bytes[36]));
  std::string_view rest = bytes.substr(37);
  if (out.flags & kFlagAttestedData) {
    if (rest.size() < 18) return malformed("attested credential data is truncated");
    out.aaguid = std::string(rest.substr(0, 16));
    const std::size_t id_length = (std::size_t(std::uint8_t(rest[16])) << 8) | std::uint8_t(rest[17]);
    rest.remove_prefix(18);
    if (id_length == 0 || id_length > kMaxCredentialId || rest.size() < id_length)
      return malformed("the credential id length is out of range");
    out.credential_id = std::string(rest.substr(0, id_length));
    rest.remove_prefix(id_length);
    std::size_t used = 0;
    auto key = load_cbor(rest, &used);
    if (!key) return malformed("the credential public key is not valid CBOR");
    out.public_key_cose = std::string(rest.substr(0, used));
    rest.remove_prefix(used);
  }
  if (out.flags & kFlagExtensions) {
    std::size_t used = 0;
    auto extensions = load_cbor(rest, &used);
    if (!extensions || !cbor_isa_map(extensions->get())) return malformed("authenticator extensions are not a CBOR map");
    rest.remove_prefix(used);
  }
  if (!rest.empty()) return malformed("authenticator data has trailing bytes");
  return out;
}

Status check_flags_and_rp(const RelyingParty& rp, const AuthenticatorData& data) {
  if (!constant_time_equal(data.rp_id_hash, sha256_of(rp.id))) return refused("rpIdHash is not SHA-256 of " + rp.id);
  if (!(data.flags & kFlagUserPresent)) return refused("user presence flag missing");
  if (rp.require_user_verification && !(data.flags & kFlagUserVerified))
    return refused("user verification flag missing");
  if ((data.flags & kFlagBackupState) && !(data.flags & kFlagBackupEligible))
    return refused("backup state flag set without backup eligibility");
  return {};
}

}  // namespace

Result<std::string> challenge_of(std::string_view client_data_json) {
  auto data = nlohmann::json::parse(client_data_json, nullptr, false);
  if (data.is_discarded() || !data.is_object()) return malformed("clientDataJSON is not a JSON object");
  auto it = data.find("challenge");
  if (it == data.end() || !it->is_string()) return malformed("clientDataJSON has no challenge");
  auto decoded = base64url_decode(it->get<std::string>());
  if (!decoded || decoded->empty() || decoded->size() > 1024) return malformed("clientDataJSON challenge is not base64url");
  return std::move(*decoded);
}

Result<NewCredential> verify_registration(const RelyingParty& rp, const RegistrationResponse& response,
                                          std::string_view expected_challenge) {
  LK_RETURN_IF_ERROR(check_client_data(rp, response.client_data_json, "webauthn.create", expected_challenge));
  std::size_t used = 0;
  auto object = load_cbor(response.attestation_object, &used);
  if (!object || used != response.attestation_object.size() || !cbor_isa_map(object->get()))
    return malformed("attestationObject is not one CBOR map");
  const cbor_item_t* fmt_item = map_get_text(object->get(), "fmt");
  const cbor_item_t* statement = map_get_text(object->get(), "attStmt");
  const cbor_item_t* auth_item = map_get_text(object->get(), "authData");
  auto fmt = fmt_item ? cbor_text(fmt_item) : std::nullopt;
  auto auth_bytes = auth_item ? cbor_bytes(auth_item) : std::nullopt;
  if (!fmt || !statement || !cbor_isa_map(statement) || !auth_bytes)
    return malformed("attestationObject lacks fmt, attStmt or authData");

  auto data = parse_authenticator_data(*auth_bytes);
  if (!data.ok()) return data.take_error();
  LK_RETURN_IF_ERROR(check_flags_and_rp(rp, *data));
  if (!(data->flags & kFlagAttestedData) || data->credential_id.empty())
    return refused("attested credential data flag missing");
  auto key = es256_key(data->public_key_cose);
  if (!key.ok()) return key.take_error();

  if (*fmt == "none") {
    if (cbor_map_size(statement) != 0) return refused("attestation format none must have an empty attStmt");
  } else if (*fmt == "packed") {
    const cbor_item_t* alg_item = map_get_text(statement, "alg");
    const cbor_item_t* sig_item = map_get_text(statement, "sig");
    if (map_get_text(statement, "x5c") != nullptr)
      return refused("packed attestation with a certificate chain is not accepted (self attestation only)");
    auto alg = alg_item ? cbor_integer(alg_item) : std::nullopt;
    auto sig = sig_item ? cbor_bytes(sig_item) : std::nullopt;
    if (alg != -7 || !sig) return refused("packed self attestation must be ES256 with a signature");
    if (!es256_verifies(key->get(), *auth_bytes + sha256_of(response.client_data_json), *sig))
      return refused("attestation signature does not verify");
  } else {
    return refused("attestation format " + echo(*fmt) + " is not accepted (none or packed self attestation)");
  }

  NewCredential credential;
  credential.credential_id = data->credential_id;
  credential.public_key_cose = data->public_key_cose;
  credential.sign_count = data->sign_count;
  credential.user_verified = (data->flags & kFlagUserVerified) != 0;
  credential.aaguid = data->aaguid;
  return credential;
}

Result<AssertionResult> verify_assertion(const RelyingParty& rp, const AssertionResponse& response,
                                         std::string_view expected_challenge, std::string_view public_key_cose,
                                         std::uint32_t stored_sign_count) {
  LK_RETURN_IF_ERROR(check_client_data(rp, response.client_data_json, "webauthn.get", expected_challenge));
  auto data = parse_authenticator_data(response.authenticator_data);
  if (!data.ok()) return data.take_error();
  LK_RETURN_IF_ERROR(check_flags_and_rp(rp, *data));
  auto key = es256_key(public_key_cose);
  if (!key.ok()) return key.take_error();
  if (!es256_verifies(key->get(), response.authenticator_data + sha256_of(response.client_data_json),
                      response.signature))
    return refused("signature does not verify");
  if ((stored_sign_count != 0 || data->sign_count != 0) && data->sign_count <= stored_sign_count)
    return refused("sign count went backwards (" + std::to_string(data->sign_count) +
                   " <= " + std::to_string(stored_sign_count) + "): possible cloned authenticator");
  return AssertionResult{data->sign_count, (data->flags & kFlagUserVerified) != 0};
}

}  // namespace latchkey::webauthn
