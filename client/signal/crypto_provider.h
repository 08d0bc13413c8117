// The cryptographic primitives libsignal-protocol-c asks its host for, on OpenSSL 3 (EVP) and libsodium:
// HMAC-SHA256, SHA-512, AES-CBC with PKCS#5 padding, AES-CTR, and secure random bytes.
#pragma once

#include <signal_protocol.h>

namespace latchkey::client {

// A provider with every callback set; user_data is unused. Thread-safe (no shared state).
// libsodium must be initialised (latchkey::initialize_crypto) before random bytes are drawn.
signal_crypto_provider openssl_crypto_provider();

}  // namespace latchkey::client
