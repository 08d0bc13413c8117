#include "client/messages/content.h"

#include <nlohmann/json.hpp>

namespace latchkey::client {

std::string pad_message(std::string_view plain) {
  std::string out(plain);
  out.push_back(static_cast<char>(0x80));
  std::size_t total = ((out.size() + kPaddingBlock - 1) / kPaddingBlock) * kPaddingBlock;
  out.resize(total, '\0');
  return out;
}

Result<std::string> unpad_message(std::string_view padded) {
  std::size_t end = padded.size();
  while (end > 0 && padded[end - 1] == '\0') --end;
  if (end == 0 || static_cast<unsigned char>(padded[end - 1]) != 0x80) {
    return make_error(ErrorKind::kCrypto, "the message padding is malformed");
  }
  return std::string(padded.substr(0, end - 1));
}

std::string encode_content(const MessageContent& content) {
  nlohmann::json body = {{"v", 1}, {"text", content.text}, {"sentAt", content.sent_at_ms}};
  if (content.sync_destination) body["sync"] = {{"destination", *content.sync_destination}};
  return pad_message(body.dump());
}

Result<MessageContent> decode_content(std::string_view padded) {
  auto plain = unpad_message(padded);
  if (!plain.ok()) return plain.take_error();
  auto body = nlohmann::json::parse(*plain, nullptr, false);
  if (!body.is_object() || !body.contains("text") || !body["text"].is_string()) {
    return make_error(ErrorKind::kCrypto, "the message content is malformed");
  }
  MessageContent content;
  content.text = body["text"].get<std::string>();
  if (body.contains("sentAt") && body["sentAt"].is_number_integer()) content.sent_at_ms = body["sentAt"].get<std::int64_t>();
  if (body.contains("sync") && body["sync"].is_object() && body["sync"].contains("destination") &&
      body["sync"]["destination"].is_string()) {
    content.sync_destination = body["sync"]["destination"].get<std::string>();
  }
  return content;
}

}  // namespace latchkey::client
