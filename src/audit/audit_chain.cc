#include "audit/audit_chain.h"

#include <sodium.h>

#include "core/encoding.h"

namespace latchkey {
namespace {

constexpr std::string_view kLeafTag = "latchkey-audit-leaf-v1";
constexpr std::string_view kChainTag = "latchkey-audit-chain-v1";
constexpr std::string_view kCheckpointTag = "latchkey-audit-checkpoint-v1";

std::string sha256_of(std::initializer_list<std::string_view> parts) {
  crypto_hash_sha256_state state;
  crypto_hash_sha256_init(&state);
  for (std::string_view part : parts)
    crypto_hash_sha256_update(&state, reinterpret_cast<const unsigned char*>(part.data()), part.size());
  std::string out(crypto_hash_sha256_BYTES, '\0');
  crypto_hash_sha256_final(&state, reinterpret_cast<unsigned char*>(out.data()));
  return out;
}

void append_big_endian(std::string& out, std::uint64_t value) {
  for (int shift = 56; shift >= 0; shift -= 8) out.push_back(static_cast<char>((value >> shift) & 0xff));
}

}  // namespace

std::string audit_genesis_hash() { return std::string(kAuditHashSize, '\0'); }

std::string canonical_details(const nlohmann::json& details) { return details.dump(); }

std::string audit_canonical_form(std::int64_t seq, EpochMillis at, const std::string& actor, const std::string& action,
                                 const std::string& target, const nlohmann::json& details) {
  nlohmann::json object = nlohmann::json::object();
  object["seq"] = seq;
  object["at"] = at;
  object["actor"] = actor;
  object["action"] = action;
  object["target"] = target;
  object["details"] = details;
  return object.dump();  // nlohmann::json keeps object keys in a std::map: sorted by bytes
}

std::string audit_leaf_hash(std::string_view canonical_form) { return sha256_of({kLeafTag, canonical_form}); }

std::string audit_chain_hash(std::string_view prev_hash, std::string_view leaf_hash) {
  return sha256_of({kChainTag, prev_hash, leaf_hash});
}

void seal_audit_entry(AuditEntry& entry, std::string_view prev_hash) {
  entry.prev_hash = std::string(prev_hash);
  std::string canonical =
      audit_canonical_form(entry.seq, entry.at, entry.actor, entry.action, entry.target, entry.details);
  entry.hash = audit_chain_hash(prev_hash, audit_leaf_hash(canonical));
}

AuditSigningKey::~AuditSigningKey() {
  if (!secret_key.empty()) sodium_memzero(secret_key.data(), secret_key.size());
}

Result<AuditSigningKey> audit_signing_key_from_seed(std::string_view seed) {
  if (seed.size() != crypto_sign_SEEDBYTES)
    return make_error(ErrorCode::kInternal, "an audit signing key seed must be 32 bytes");
  AuditSigningKey key;
  key.secret_key.assign(crypto_sign_SECRETKEYBYTES, '\0');
  key.public_key.assign(crypto_sign_PUBLICKEYBYTES, '\0');
  crypto_sign_seed_keypair(reinterpret_cast<unsigned char*>(key.public_key.data()),
                           reinterpret_cast<unsigned char*>(key.secret_key.data()),
                           reinterpret_cast<const unsigned char*>(seed.data()));
  return key;
}

std::string audit_key_id(std::string_view public_key) {
  return hex_encode(sha256_of({public_key}).substr(0, 8));
}

std::string audit_checkpoint_message(std::int64_t seq, std::string_view head, EpochMillis at) {
  std::string message(kCheckpointTag);
  append_big_endian(message, static_cast<std::uint64_t>(seq));
  message.append(head);
  append_big_endian(message, static_cast<std::uint64_t>(at));
  return message;
}

AuditCheckpoint sign_audit_checkpoint(const AuditSigningKey& key, std::int64_t seq, std::string_view head,
                                      EpochMillis at) {
  AuditCheckpoint checkpoint;
  checkpoint.seq = seq;
  checkpoint.head = std::string(head);
  checkpoint.at = at;
  checkpoint.key_id = audit_key_id(key.public_key);
  std::string message = audit_checkpoint_message(seq, head, at);
  checkpoint.signature.assign(crypto_sign_BYTES, '\0');
  crypto_sign_detached(reinterpret_cast<unsigned char*>(checkpoint.signature.data()), nullptr,
                       reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                       reinterpret_cast<const unsigned char*>(key.secret_key.data()));
  return checkpoint;
}

bool verify_audit_checkpoint(const AuditCheckpoint& checkpoint, std::string_view public_key) {
  if (public_key.size() != crypto_sign_PUBLICKEYBYTES || checkpoint.signature.size() != crypto_sign_BYTES ||
      checkpoint.head.size() != kAuditHashSize)
    return false;
  std::string message = audit_checkpoint_message(checkpoint.seq, checkpoint.head, checkpoint.at);
  return crypto_sign_verify_detached(reinterpret_cast<const unsigned char*>(checkpoint.signature.data()),
                                     reinterpret_cast<const unsigned char*>(message.data()), message.size(),
                                     reinterpret_cast<const unsigned char*>(public_key.data())) == 0;
}

std::string format_audit_checkpoint(const AuditCheckpoint& checkpoint) {
  // Written by hand to keep the documented key order (nlohmann::json would sort the keys).
  return "{\"seq\":" + std::to_string(checkpoint.seq) + ",\"head\":\"" + hex_encode(checkpoint.head) +
         "\",\"at\":" + std::to_string(checkpoint.at) + ",\"signature\":\"" + hex_encode(checkpoint.signature) +
         "\",\"key_id\":\"" + checkpoint.key_id + "\"}";
}

std::optional<AuditCheckpoint> parse_audit_checkpoint(std::string_view line) {
  nlohmann::json json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) return std::nullopt;
  auto integer = [&](const char* name) -> std::optional<std::int64_t> {
    auto it = json.find(name);
    if (it == json.end() || !it->is_number_integer()) return std::nullopt;
    return it->get<std::int64_t>();
  };
  auto hex = [&](const char* name, std::size_t bytes) -> std::optional<std::string> {
    auto it = json.find(name);
    if (it == json.end() || !it->is_string()) return std::nullopt;
    auto decoded = hex_decode(it->get<std::string>());
    if (!decoded || decoded->size() != bytes) return std::nullopt;
    return decoded;
  };
  auto seq = integer("seq");
  auto at = integer("at");
  auto head = hex("head", kAuditHashSize);
  auto signature = hex("signature", crypto_sign_BYTES);
  auto key_id = hex("key_id", 8);
  if (!seq || *seq < 0 || !at || !head || !signature || !key_id) return std::nullopt;
  AuditCheckpoint checkpoint;
  checkpoint.seq = *seq;
  checkpoint.at = *at;
  checkpoint.head = std::move(*head);
  checkpoint.signature = std::move(*signature);
  checkpoint.key_id = hex_encode(*key_id);
  return checkpoint;
}

}  // namespace latchkey
