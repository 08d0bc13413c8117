#include "client/messages/message_receiver.h"

#include <ctime>

#include "client/signal/session_crypto.h"
#include "core/encoding.h"

namespace latchkey::client {
namespace {

std::string local_time(std::int64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  localtime_r(&seconds, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%d %H:%M:%S", &tm);
  return buffer;
}

}  // namespace

std::int64_t envelope_id(const nlohmann::json& frame) {
  if (frame.is_object() && frame.contains("id") && frame["id"].is_number_integer()) return frame["id"].get<std::int64_t>();
  return 0;
}

Result<ReceivedMessage> decrypt_envelope(Device& device, const nlohmann::json& frame) {
  ReceivedMessage m;
  m.id = envelope_id(frame);
  if (m.id == 0 || !frame.contains("source") || !frame["source"].is_string() || !frame.contains("sourceDevice") ||
      !frame["sourceDevice"].is_number_integer() || !frame.contains("envelopeType") ||
      !frame["envelopeType"].is_number_integer() || !frame.contains("content") || !frame["content"].is_string()) {
    return make_error(ErrorKind::kServer, "the server sent a malformed envelope");
  }
  m.source = frame["source"].get<std::string>();
  m.source_device = frame["sourceDevice"].get<int>();
  if (frame.contains("timestamp") && frame["timestamp"].is_number_integer()) m.timestamp = frame["timestamp"].get<std::int64_t>();
  if (frame.contains("serverTimestamp") && frame["serverTimestamp"].is_number_integer()) {
    m.server_timestamp = frame["serverTimestamp"].get<std::int64_t>();
  }
  auto content = base64_decode(frame["content"].get<std::string>());
  if (!content) return make_error(ErrorKind::kServer, "the server sent an envelope that is not base64");
  auto plaintext = decrypt_from(device.protocol(), m.source, m.source_device, frame["envelopeType"].get<int>(), *content);
  if (!plaintext.ok()) return plaintext.take_error();
  auto decoded = decode_content(*plaintext);
  if (!decoded.ok()) return decoded.take_error();
  m.content = std::move(*decoded);
  // A sync copy is only believable from our own account.
  if (m.content.sync_destination && m.source != device.account().uuid) m.content.sync_destination.reset();
  return m;
}

nlohmann::json message_json(Device& device, const ReceivedMessage& m) {
  nlohmann::json out = {{"id", m.id},
                        {"from", m.source},
                        {"fromNumber", nullptr},
                        {"fromDevice", m.source_device},
                        {"text", m.content.text},
                        {"timestamp", m.timestamp},
                        {"serverTimestamp", m.server_timestamp},
                        {"sync", m.content.sync_destination.has_value()}};
  std::string label = label_for(device, m.source);
  if (label != m.source) out["fromNumber"] = label;
  if (m.content.sync_destination) out["destination"] = *m.content.sync_destination;
  auto identity = device.store().identity(m.source);
  out["identityChanged"] = identity.ok() && identity->has_value() && (*identity)->changed_ms.has_value();
  return out;
}

std::string message_text(Device& device, const ReceivedMessage& m) {
  std::string when = local_time(m.timestamp ? m.timestamp : m.server_timestamp);
  if (m.content.sync_destination) {
    return "[" + when + "] you (device " + std::to_string(m.source_device) + ") -> " +
           label_for(device, *m.content.sync_destination) + ": " + m.content.text;
  }
  return "[" + when + "] " + label_for(device, m.source) + " (device " + std::to_string(m.source_device) +
         "): " + m.content.text;
}

}  // namespace latchkey::client
