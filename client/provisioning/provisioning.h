// Linking a new device (docs/api.md, "The provisioning socket"): the link URL the new device shows (as a QR
// code and as text), and the provisioning message the primary seals to the new device's ephemeral X25519 key
// (libsodium crypto_box_seal), which carries the account and the identity key pair.
#pragma once

#include <string>
#include <string_view>

#include "client/core/result.h"

namespace latchkey::client {

// latchkey://link?address=<provisioning address>&pub=<base64url of the 32-byte ephemeral public key>
struct LinkUrl {
  std::string address;
  std::string public_key;  // 32 raw bytes
};

std::string format_link_url(const LinkUrl& url);
// kUsage when the text is not such a URL or the key is not 32 bytes.
Result<LinkUrl> parse_link_url(std::string_view text);

struct EphemeralKeyPair {
  std::string public_key;  // 32 bytes
  std::string secret_key;  // 32 bytes
  ~EphemeralKeyPair();
};
EphemeralKeyPair generate_ephemeral_key_pair();

// What the primary hands to the new device. Keys are raw bytes.
struct ProvisioningMessage {
  std::string uuid;
  std::string number;
  std::string identity_public;   // 33 bytes
  std::string identity_private;  // 32 bytes
  std::string verification_code; // from POST /v1/devices/provisioning/code
  ~ProvisioningMessage();
};

// The sealed message (raw bytes; base64 it for PUT /v1/provisioning/{address}). kCrypto on a bad key.
Result<std::string> seal_provisioning_message(const ProvisioningMessage& message, std::string_view public_key);
// kCrypto when the body does not open with this key pair or its content is malformed.
Result<ProvisioningMessage> open_provisioning_message(std::string_view sealed, const EphemeralKeyPair& keys);

}  // namespace latchkey::client
