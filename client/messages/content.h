// The plaintext inside every envelope (client/README.md, "Message format"): a small JSON object, padded
// Signal-style to a multiple of 160 bytes so that ciphertext sizes hide the exact text length.
//
//   {"v": 1, "text": "hello", "sentAt": 1763779000000}
//   {"v": 1, "text": "hello", "sentAt": 1763779000000, "sync": {"destination": "<uuid>"}}
//
// "sync" marks the copy a device sends to its own other devices of a message it sent to `destination`.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "client/core/result.h"

namespace latchkey::client {

inline constexpr std::size_t kPaddingBlock = 160;

struct MessageContent {
  std::string text;
  std::int64_t sent_at_ms = 0;
  std::optional<std::string> sync_destination;
};

// JSON, then 0x80, then zero bytes up to a multiple of kPaddingBlock.
std::string encode_content(const MessageContent& content);
// kCrypto when the padding or the JSON is malformed.
Result<MessageContent> decode_content(std::string_view padded);

std::string pad_message(std::string_view plain);
Result<std::string> unpad_message(std::string_view padded);

}  // namespace latchkey::client
