// Checks XEdDSA signatures made with a Curve25519 identity key, as the Signal Protocol signs prekeys.
#pragma once

#include <string_view>

namespace latchkey {

// True when `signature` (64 bytes) is a valid XEdDSA signature of `message` by `public_key` (33 bytes:
// 0x05 and the Curve25519 key). Any malformed input answers false. Thread-safe.
bool verify_xeddsa(std::string_view public_key, std::string_view message, std::string_view signature);

}  // namespace latchkey
