// Encrypting to and decrypting from one remote device with the Double Ratchet session kept in the store
// (libsignal-protocol-c session_cipher), and the displayable safety number of two identities.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "client/core/result.h"
#include "client/signal/protocol_context.h"

namespace latchkey::client {

// Envelope types on the wire (docs/api.md, PUT /v1/messages).
inline constexpr int kEnvelopeCiphertext = 1;  // SignalMessage
inline constexpr int kEnvelopePreKey = 3;      // PreKeySignalMessage

struct Ciphertext {
  int type = 0;                          // kEnvelopeCiphertext or kEnvelopePreKey
  std::string body;                      // the serialized Signal message
  std::uint32_t remote_registration_id = 0;
};

// Encrypts `plaintext` for uuid.device_id with the stored session (which must exist; kCrypto otherwise).
Result<Ciphertext> encrypt_for(ProtocolContext& ctx, std::string_view uuid, int device_id, std::string_view plaintext);

// The Error code set by decrypt_from when the message was already decrypted once (a redelivery).
inline constexpr const char* kDuplicateMessage = "duplicate_message";

// Decrypts one envelope's content from uuid.device_id. A PreKeySignalMessage starts a new session (and
// consumes the one-time prekey it names). kCrypto on failure; Error::code kDuplicateMessage for a message
// that was already decrypted.
Result<std::string> decrypt_from(ProtocolContext& ctx, std::string_view uuid, int device_id, int envelope_type,
                                 std::string_view content);

// Iterations of the safety number's hash, as in Signal's clients.
inline constexpr int kSafetyNumberIterations = 5200;
// The scannable fingerprint version (libsignal-protocol-c 2.3.3 accepts 0 and 1).
inline constexpr int kSafetyNumberVersion = 1;

// The 60-digit safety number of the local and remote identities (33-byte keys), the same on both sides.
// The stable identifiers are the account uuids, which survive a re-registration of the number: the safety
// number changes exactly when an identity key does.
Result<std::string> safety_number(ProtocolContext& ctx, std::string_view local_uuid, std::string_view local_identity,
                                  std::string_view remote_uuid, std::string_view remote_identity);

// "12345 67890 ..." in three lines of four groups.
std::string format_safety_number(std::string_view digits);

}  // namespace latchkey::client
