// Reading message sends: the body of PUT /v1/messages/{uuid} and the frames a device sends on its message socket
// (docs/api.md, "The message socket"). Every failure is a kMalformedRequest naming the offending field.
//
// Two readers give the same answers. The scanner reads the common shape (an object with known members, ASCII
// strings without escapes, integers; other members only if their value is a literal, string or integer, which it
// skips) straight from the text, with no JSON tree: that was the largest user-space cost of a socket carrying 1 KiB
// envelopes. Anything outside that shape (escapes, repeated or nested unknown members, floats, missing fields,
// non-ASCII) goes to the tree reader (nlohmann), which decides and words the error. The
// differential fuzzer (fuzz/message_frame_fuzzer.cc) checks that they agree whenever the scanner answers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/error.h"
#include "messages/message_service.h"

namespace latchkey {

// {"type":"ack","ids":[...]}: at most kMaxAckIds ids.
struct AckFrame {
  std::vector<std::int64_t> ids;
};

// {"type":"send","requestId":...,"destination":...,<the PUT body's fields>}: answered by a send_result naming
// quoted_request_id (the requestId as a JSON string); `request` holds the error to answer when the body is wrong.
struct SendFrame {
  std::string quoted_request_id;
  Result<MessageSendRequest> request;
};

// Not a frame the server can act on: answered with an error frame carrying `message`.
struct FrameError {
  std::string message;
};

using SocketFrame = std::variant<AckFrame, SendFrame, FrameError>;

inline constexpr std::size_t kMaxAckIds = 1000;
inline constexpr std::size_t kMaxRequestIdBytes = 64;
inline constexpr std::size_t kMaxMessagesPerSend = 64;

// The body of PUT /v1/messages/{destination}; envelope contents decode to at most max_content bytes.
Result<MessageSendRequest> parse_send_body(std::string_view body, std::string destination, std::size_t max_content);

// A text frame received on the message socket.
SocketFrame parse_socket_frame(std::string_view text, std::size_t max_content);

// The two readers alone, for tests and the fuzzer. The scanners answer nullopt when the text is outside their
// shape; whenever they answer, the tree reader answers the same.
Result<MessageSendRequest> parse_send_body_tree(std::string_view body, std::string destination, std::size_t max_content);
std::optional<Result<MessageSendRequest>> scan_send_body(std::string_view body, const std::string& destination,
                                                         std::size_t max_content);
SocketFrame parse_socket_frame_tree(std::string_view text, std::size_t max_content);
std::optional<SocketFrame> scan_socket_frame(std::string_view text, std::size_t max_content);

// Every field of an answer as one line of text (contents in hex), so that tests and the fuzzer compare answers.
std::string describe(const Result<MessageSendRequest>& request);
std::string describe(const SocketFrame& frame);

}  // namespace latchkey
