#include "net/message_parsing.h"

#include <gtest/gtest.h>

#include "core/encoding.h"

namespace latchkey {
namespace {

constexpr std::size_t kMax = 64;  // max_content for these tests
const std::string kDestination = "0b7c6a1e-2d3f-4a5b-8c9d-0e1f2a3b4c5d";

std::string frame_with(const std::string& members) {
  return R"({"type":"send","requestId":"r1","destination":")" + kDestination + R"(",)" + members;  // members end with }
}

// The scanner's answer, which must exist and equal the tree reader's.
std::string scanned_frame(const std::string& text) {
  auto scanned = scan_socket_frame(text, kMax);
  EXPECT_TRUE(scanned.has_value()) << text;
  if (!scanned) return "(left to the tree reader)";
  EXPECT_EQ(describe(*scanned), describe(parse_socket_frame_tree(text, kMax))) << text;
  return describe(*scanned);
}

// The scanner leaves the text to the tree reader; parse_socket_frame answers what the tree reader does.
std::string tree_frame(const std::string& text) {
  EXPECT_FALSE(scan_socket_frame(text, kMax).has_value()) << text;
  EXPECT_EQ(describe(parse_socket_frame(text, kMax)), describe(parse_socket_frame_tree(text, kMax)));
  return describe(parse_socket_frame(text, kMax));
}

TEST(MessageParsingTest, ScansTheCommonSendFrame) {
  const std::string content = base64_encode("ciphertext");
  const std::string text = frame_with(R"("timestamp":1763779000000,"messages":[{"type":1,"destinationDeviceId":2,)"
                                      R"("destinationRegistrationId":77,"content":")" + content + R"("}]})");
  SocketFrame frame = parse_socket_frame(text, kMax);
  auto* send = std::get_if<SendFrame>(&frame);
  ASSERT_NE(send, nullptr);
  EXPECT_EQ(send->quoted_request_id, "\"r1\"");
  ASSERT_TRUE(send->request.ok());
  EXPECT_EQ(send->request->destination_uuid, kDestination);
  EXPECT_EQ(send->request->timestamp, 1763779000000);
  ASSERT_EQ(send->request->messages.size(), 1u);
  EXPECT_EQ(send->request->messages[0].type, 1);
  EXPECT_EQ(send->request->messages[0].destination_device, 2u);
  EXPECT_EQ(send->request->messages[0].destination_registration_id, 77);
  EXPECT_EQ(send->request->messages[0].content, "ciphertext");
  scanned_frame(text);
  // White space anywhere JSON allows it, members in any order.
  scanned_frame(" \n{ \"messages\" :[ {\"content\":\"" + content +
                "\",\"destinationRegistrationId\":0 ,\"destinationDeviceId\":\t1,\"type\":3}] ,\r\"timestamp\":-0,"
                "\"destination\":\"x\",\"requestId\":\"\",\"type\":\"send\"} \n");
  scanned_frame(frame_with(R"("timestamp":1,"messages":[]})"));
}

TEST(MessageParsingTest, ScannerAnswersTheTreeReadersErrors) {
  const std::string c = base64_encode("x");
  auto message = [&](const std::string& type, const std::string& device, const std::string& registration,
                     const std::string& content) {
    return frame_with(R"("timestamp":1,"messages":[{"type":)" + type + R"(,"destinationDeviceId":)" + device +
                      R"(,"destinationRegistrationId":)" + registration + R"(,"content":")" + content + R"("}]})");
  };
  EXPECT_NE(scanned_frame(message("1", "0", "1", c)).find("destinationDeviceId must be a device id"), std::string::npos);
  EXPECT_NE(scanned_frame(message("1", "4294967296", "1", c)).find("must be a device id"), std::string::npos);
  EXPECT_NE(scanned_frame(message("1", "1", "-1", c)).find("destinationRegistrationId is out of range"),
            std::string::npos);
  EXPECT_NE(scanned_frame(message("256", "1", "1", c)).find("type must be 1, 3 or 8"), std::string::npos);
  EXPECT_NE(scanned_frame(message("1", "1", "1", "not base64!")).find("content must be base64"), std::string::npos);
  EXPECT_NE(scanned_frame(message("1", "1", "1", std::string(200, 'A'))).find("content is too long"),
            std::string::npos);
  EXPECT_EQ(scanned_frame(R"({"type":"hello"})"), "frame error: unknown frame type");
}

TEST(MessageParsingTest, LeavesEverythingElseToTheTreeReader) {
  const std::string c = base64_encode("abc");
  const std::string ok = R"("timestamp":1,"messages":[{"type":1,"destinationDeviceId":1,"destinationRegistrationId":1,"content":")";
  // An escaped solidus is valid JSON the scanner does not read: the tree reader decodes it.
  EXPECT_NE(tree_frame(frame_with(ok + R"(a\/b"}]})")).find("content must be base64"), std::string::npos);
  EXPECT_EQ(tree_frame(frame_with(ok + R"(ab\/c"}]})")).find("error"), std::string::npos);
  // Unknown members are ignored by the tree reader; the scanner skips those with a literal, string or integer value
  // and leaves the others. Repeated members keep the last value.
  EXPECT_EQ(scanned_frame(frame_with(ok + c + R"(","x":1}],"online":true,"urgent":false,"n":null,"s":"t"})")).find("error"),
            std::string::npos);
  EXPECT_EQ(tree_frame(frame_with(ok + c + R"("}],"online":[true]})")).find("error"), std::string::npos);
  EXPECT_EQ(tree_frame(frame_with(ok + c + R"("}],"online":truex})")), "frame error: a frame must be a JSON object");
  EXPECT_NE(tree_frame(frame_with(R"("timestamp":2,"timestamp":3,"messages":[]})")).find(" at 3:"),
            std::string::npos);
  // Floats, missing members, wrong types, non-ASCII and invalid JSON get the tree reader's words.
  EXPECT_NE(tree_frame(frame_with(R"("timestamp":1.5,"messages":[]})")).find("timestamp must be an integer"),
            std::string::npos);
  EXPECT_NE(tree_frame(frame_with(R"("messages":[]})")).find("timestamp is required"), std::string::npos);
  EXPECT_NE(tree_frame(frame_with(R"("timestamp":1,"messages":[{"type":1}]})")).find("destinationDeviceId is required"),
            std::string::npos);
  EXPECT_NE(tree_frame(frame_with(R"("timestamp":1,"messages":{}})")).find("messages must be an array"),
            std::string::npos);
  EXPECT_EQ(tree_frame(R"({"type":"send","requestId":")" + std::string(65, 'r') + R"(","destination":"d"})"),
            "frame error: requestId must be a string of at most 64 bytes");
  EXPECT_EQ(tree_frame(R"({"type":"send","requestId":"é","destination":7})"),
            "frame error: destination must be a string");
  EXPECT_EQ(tree_frame(R"({"type":"send","requestId":"r"} x)"), "frame error: a frame must be a JSON object");
  EXPECT_EQ(tree_frame(R"({"type":"send","requestId":"r")"), "frame error: a frame must be a JSON object");
  EXPECT_EQ(tree_frame("[1]"), "frame error: a frame must be a JSON object");
  EXPECT_EQ(tree_frame(R"({"type":1})"), "frame error: type must be a string");
  EXPECT_EQ(tree_frame(R"({"type":"send","requestId":"r","destination":"d","timestamp":01,"messages":[]})"),
            "frame error: a frame must be a JSON object");
  EXPECT_NE(tree_frame(frame_with(R"("timestamp":12345678901234567890,"messages":[]})")).find("out of range"),
            std::string::npos);
  std::string many = R"("timestamp":1,"messages":[)";
  for (std::size_t i = 0; i <= kMaxMessagesPerSend; ++i) many += std::string(i ? "," : "") + "{}";
  EXPECT_NE(tree_frame(frame_with(many + "]}")).find("messages holds too many entries"), std::string::npos);
}

TEST(MessageParsingTest, AckFrames) {
  EXPECT_EQ(scanned_frame(R"({"type":"ack","ids":[1842, 1843]})"), "ack 1842 1843");
  EXPECT_EQ(scanned_frame(R"({"ids":[],"type":"ack"})"), "ack");
  EXPECT_EQ(tree_frame(R"({"type":"ack","ids":[1.0]})"), "frame error: ids must hold integers");
  EXPECT_EQ(tree_frame(R"({"type":"ack"})"), "frame error: ids must be an array");
  std::string ids;
  for (std::size_t i = 0; i <= kMaxAckIds; ++i) ids += std::string(i ? "," : "") + std::to_string(i);
  EXPECT_EQ(tree_frame(R"({"type":"ack","ids":[)" + ids + "]}"), "frame error: ids holds more than 1000 ids");
}

TEST(MessageParsingTest, SendBodies) {
  const std::string body = R"({"messages":[{"type":1,"destinationDeviceId":1,"destinationRegistrationId":5,)"
                           R"("content":")" + base64_encode("abc") + R"("}],"timestamp":9})";
  auto scanned = scan_send_body(body, kDestination, kMax);
  ASSERT_TRUE(scanned.has_value());
  EXPECT_EQ(describe(*scanned), describe(parse_send_body_tree(body, kDestination, kMax)));
  EXPECT_EQ(describe(parse_send_body(body, kDestination, kMax)),
            "send to " + kDestination + " at 9: {1 1 5 " + hex_encode("abc") + "}");
  // Signal clients add members the server does not read: both readers ignore them.
  const std::string signal_body = body.substr(0, body.size() - 1) + R"(,"online":false,"urgent":true})";
  ASSERT_TRUE(scan_send_body(signal_body, kDestination, kMax).has_value());
  EXPECT_EQ(describe(parse_send_body(signal_body, kDestination, kMax)), describe(parse_send_body(body, kDestination, kMax)));
  EXPECT_EQ(describe(parse_send_body("nope", kDestination, kMax)),
            "error malformed_request: the request body is not valid JSON null");
}

}  // namespace
}  // namespace latchkey
