// Device names are stored on the server encrypted (docs/api.md: "opaque encrypted name"), under a key that
// every device of the account derives from the shared identity private key; the server never reads them.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace latchkey::client {

// base64(nonce || crypto_secretbox(name)); at most ~100 characters of name keep it under 256 bytes.
std::string encrypt_device_name(std::string_view identity_private, std::string_view name);
// nullopt when the value does not decrypt with this account's key.
std::optional<std::string> decrypt_device_name(std::string_view identity_private, std::string_view encrypted);

}  // namespace latchkey::client
