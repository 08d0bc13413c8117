// Turning an "envelope" frame of the message socket (docs/api.md, "The message socket") into a decrypted
// message.
#pragma once

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "client/commands/device.h"
#include "client/core/result.h"
#include "client/messages/content.h"

namespace latchkey::client {

struct ReceivedMessage {
  std::int64_t id = 0;             // the server's envelope id (to acknowledge)
  std::string source;              // sender account uuid
  int source_device = 0;
  std::int64_t timestamp = 0;      // the sender's timestamp
  std::int64_t server_timestamp = 0;
  MessageContent content;
};

// The envelope's id, or 0 when the frame has none (malformed).
std::int64_t envelope_id(const nlohmann::json& frame);

// Decrypts one envelope frame. kCrypto when it does not decrypt (Error::code kDuplicateMessage when it was
// already decrypted before, e.g. redelivered after an acknowledgement was lost), kServer when the frame
// is malformed.
Result<ReceivedMessage> decrypt_envelope(Device& device, const nlohmann::json& frame);

// One line of --json output.
nlohmann::json message_json(Device& device, const ReceivedMessage& message);
// One line of human output.
std::string message_text(Device& device, const ReceivedMessage& message);

}  // namespace latchkey::client
