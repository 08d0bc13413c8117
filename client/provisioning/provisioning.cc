#include "client/provisioning/provisioning.h"

#include <sodium.h>

#include <cctype>

#include <nlohmann/json.hpp>

#include "core/encoding.h"

namespace latchkey::client {
namespace {

constexpr std::string_view kLinkPrefix = "latchkey://link?";

std::string_view query_value(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    auto eq = pair.find('=');
    if (eq != std::string_view::npos && pair.substr(0, eq) == name) return pair.substr(eq + 1);
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return {};
}

bool is_url_safe(std::string_view s) {
  for (unsigned char c : s) {
    if (!(std::isalnum(c) || c == '-' || c == '_')) return false;
  }
  return !s.empty();
}

}  // namespace

EphemeralKeyPair::~EphemeralKeyPair() { sodium_memzero(secret_key.data(), secret_key.size()); }
ProvisioningMessage::~ProvisioningMessage() { sodium_memzero(identity_private.data(), identity_private.size()); }

std::string format_link_url(const LinkUrl& url) {
  return std::string(kLinkPrefix) + "address=" + url.address + "&pub=" + base64url_encode(url.public_key);
}

Result<LinkUrl> parse_link_url(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.remove_suffix(1);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) text.remove_prefix(1);
  if (!text.starts_with(kLinkPrefix)) {
    return make_error(ErrorKind::kUsage, "a link URL starts with latchkey://link? (copy it from the new device)");
  }
  auto query = text.substr(kLinkPrefix.size());
  LinkUrl url;
  url.address = std::string(query_value(query, "address"));
  auto pub = base64url_decode(query_value(query, "pub"));
  if (!is_url_safe(url.address) || url.address.size() > 128) {
    return make_error(ErrorKind::kUsage, "the link URL has no valid address");
  }
  if (!pub || pub->size() != crypto_box_PUBLICKEYBYTES) {
    return make_error(ErrorKind::kUsage, "the link URL has no valid public key");
  }
  url.public_key = *pub;
  return url;
}

EphemeralKeyPair generate_ephemeral_key_pair() {
  EphemeralKeyPair keys;
  keys.public_key.resize(crypto_box_PUBLICKEYBYTES);
  keys.secret_key.resize(crypto_box_SECRETKEYBYTES);
  crypto_box_keypair(reinterpret_cast<unsigned char*>(keys.public_key.data()),
                     reinterpret_cast<unsigned char*>(keys.secret_key.data()));
  return keys;
}

Result<std::string> seal_provisioning_message(const ProvisioningMessage& message, std::string_view public_key) {
  if (public_key.size() != crypto_box_PUBLICKEYBYTES) return make_error(ErrorKind::kCrypto, "bad provisioning key");
  nlohmann::json body = {{"version", 1},
                         {"uuid", message.uuid},
                         {"number", message.number},
                         {"identityKeyPublic", base64_encode(message.identity_public)},
                         {"identityKeyPrivate", base64_encode(message.identity_private)},
                         {"verificationCode", message.verification_code}};
  std::string plain = body.dump();
  std::string sealed(plain.size() + crypto_box_SEALBYTES, '\0');
  int rc = crypto_box_seal(reinterpret_cast<unsigned char*>(sealed.data()),
                           reinterpret_cast<const unsigned char*>(plain.data()), plain.size(),
                           reinterpret_cast<const unsigned char*>(public_key.data()));
  sodium_memzero(plain.data(), plain.size());
  if (rc != 0) return make_error(ErrorKind::kCrypto, "sealing the provisioning message failed");
  return sealed;
}

Result<ProvisioningMessage> open_provisioning_message(std::string_view sealed, const EphemeralKeyPair& keys) {
  if (sealed.size() <= crypto_box_SEALBYTES) return make_error(ErrorKind::kCrypto, "the provisioning message is too short");
  std::string plain(sealed.size() - crypto_box_SEALBYTES, '\0');
  if (crypto_box_seal_open(reinterpret_cast<unsigned char*>(plain.data()),
                           reinterpret_cast<const unsigned char*>(sealed.data()), sealed.size(),
                           reinterpret_cast<const unsigned char*>(keys.public_key.data()),
                           reinterpret_cast<const unsigned char*>(keys.secret_key.data())) != 0) {
    return make_error(ErrorKind::kCrypto, "the provisioning message does not open with this device's key");
  }
  auto body = nlohmann::json::parse(plain, nullptr, false);
  sodium_memzero(plain.data(), plain.size());
  auto text = [&](const char* name) -> std::string {
    if (body.is_object() && body.contains(name) && body[name].is_string()) return body[name].get<std::string>();
    return "";
  };
  ProvisioningMessage m;
  m.uuid = text("uuid");
  m.number = text("number");
  m.verification_code = text("verificationCode");
  auto pub = base64_decode(text("identityKeyPublic"));
  auto priv = base64_decode(text("identityKeyPrivate"));
  if (m.uuid.empty() || m.number.empty() || m.verification_code.empty() || !pub || pub->size() != 33 || !priv ||
      priv->size() != 32) {
    return make_error(ErrorKind::kCrypto, "the provisioning message is malformed");
  }
  m.identity_public = *pub;
  m.identity_private = *priv;
  sodium_memzero(priv->data(), priv->size());
  return m;
}

}  // namespace latchkey::client
