#include "net/message_parsing.h"

#include <nlohmann/json.hpp>

#include "core/encoding.h"
#include "net/request_parsing.h"

namespace latchkey {
namespace {

// ---- Checks shared by both readers, in the order the tree reader applies them. ----

std::string message_path(std::size_t i) { return "messages[" + std::to_string(i) + "]"; }

Status check_message_numbers(const std::string& path, std::int64_t type, std::int64_t device,
                             std::int64_t registration) {
  if (device < 1 || device > 0xFFFFFFFFLL)
    return make_error(ErrorCode::kMalformedRequest, path + ".destinationDeviceId must be a device id");
  if (registration < 0 || registration > 0x7FFFFFFFLL)
    return make_error(ErrorCode::kMalformedRequest, path + ".destinationRegistrationId is out of range");
  if (type < 0 || type > 255) return make_error(ErrorCode::kMalformedRequest, path + ".type must be 1, 3 or 8");
  return {};
}

Result<std::string> decode_content(const std::string& path, std::string_view text, std::size_t max_content) {
  return decode_base64_text(text, path + ".content", max_content);
}

OutgoingEnvelope envelope_of(std::int64_t type, std::int64_t device, std::int64_t registration, std::string content) {
  OutgoingEnvelope e;
  e.type = static_cast<int>(type);
  e.destination_device = static_cast<std::uint32_t>(device);
  e.destination_registration_id = static_cast<int>(registration);
  e.content = std::move(content);
  return e;
}

// ---- The tree reader. ----

Result<MessageSendRequest> send_from_tree(const nlohmann::json& body, std::string destination,
                                          std::size_t max_content) {
  MessageSendRequest send;
  send.destination_uuid = std::move(destination);
  auto timestamp = required_integer(body, "", "timestamp");
  if (!timestamp.ok()) return timestamp.take_error();
  send.timestamp = *timestamp;
  auto array = required_array(body, "messages");
  if (!array.ok()) return array.take_error();
  if ((*array)->size() > kMaxMessagesPerSend)
    return make_error(ErrorCode::kMalformedRequest, "messages holds too many entries");
  for (std::size_t i = 0; i < (*array)->size(); ++i) {
    const nlohmann::json& m = (**array)[i];
    std::string path = message_path(i);
    if (!m.is_object()) return make_error(ErrorCode::kMalformedRequest, path + " must be an object");
    auto type = required_integer(m, path, "type");
    if (!type.ok()) return type.take_error();
    auto device = required_integer(m, path, "destinationDeviceId");
    if (!device.ok()) return device.take_error();
    auto registration = required_integer(m, path, "destinationRegistrationId");
    if (!registration.ok()) return registration.take_error();
    LK_RETURN_IF_ERROR(check_message_numbers(path, *type, *device, *registration));
    auto it = m.find("content");
    if (it == m.end() || !it->is_string())
      return make_error(ErrorCode::kMalformedRequest, path + ".content must be a base64 string");
    auto content = decode_content(path, it->get_ref<const std::string&>(), max_content);
    if (!content.ok()) return content.take_error();
    send.messages.push_back(envelope_of(*type, *device, *registration, std::move(*content)));
  }
  return send;
}

// ---- The scanner. ----

// Reads JSON values from the front of a text. Every reader answers false (or nullopt) both on invalid JSON and
// on valid JSON outside the scanner's shape; the caller then leaves the text to the tree reader.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : p_(text.data()), end_(text.data() + text.size()) {}

  bool consume(char c) {
    skip_space();
    if (p_ == end_ || *p_ != c) return false;
    ++p_;
    return true;
  }

  bool at_end() {
    skip_space();
    return p_ == end_;
  }

  // A string of printable ASCII without escapes; the view points into the text.
  std::optional<std::string_view> string() {
    if (!consume('"')) return std::nullopt;
    const char* start = p_;
    for (; p_ != end_; ++p_) {
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') return std::string_view(start, static_cast<std::size_t>(p_++ - start));
      if (c < 0x20 || c == '\\' || c >= 0x80) return std::nullopt;
    }
    return std::nullopt;
  }

  // A JSON integer of at most 18 digits (so it fits an int64 whatever the digits); no fraction or exponent.
  std::optional<std::int64_t> integer() {
    skip_space();
    const bool negative = p_ != end_ && *p_ == '-';
    if (negative) ++p_;
    const char* start = p_;
    std::int64_t value = 0;
    while (p_ != end_ && *p_ >= '0' && *p_ <= '9') {
      if (p_ - start == 18) return std::nullopt;
      value = value * 10 + (*p_++ - '0');
    }
    const std::ptrdiff_t digits = p_ - start;
    if (digits == 0 || (digits > 1 && *start == '0')) return std::nullopt;
    if (p_ != end_ && (*p_ == '.' || *p_ == 'e' || *p_ == 'E')) return std::nullopt;
    return negative ? -value : value;
  }

  // A member the readers do not use, which the tree reader ignores: true, false, null, or a string or integer as
  // above (Signal's clients add "online" and "urgent" to a send). Anything else stops the scan.
  bool skip_scalar() {
    skip_space();
    for (std::string_view literal : {std::string_view("true"), std::string_view("false"), std::string_view("null")}) {
      if (std::string_view(p_, static_cast<std::size_t>(end_ - p_)).substr(0, literal.size()) == literal) {
        p_ += literal.size();
        return true;
      }
    }
    if (p_ != end_ && *p_ == '"') return string().has_value();
    return integer().has_value();
  }

  // An object whose members `member(key)` reads one by one (false stops the scan).
  template <typename Member>
  bool object(Member&& member) {
    if (!consume('{')) return false;
    if (consume('}')) return true;
    do {
      auto key = string();
      if (!key || !consume(':') || !member(*key)) return false;
    } while (consume(','));
    return consume('}');
  }

  // An array whose elements `element()` reads one by one (false stops the scan).
  template <typename Element>
  bool array(Element&& element) {
    if (!consume('[')) return false;
    if (consume(']')) return true;
    do {
      if (!element()) return false;
    } while (consume(','));
    return consume(']');
  }

 private:
  void skip_space() {
    while (p_ != end_ && (*p_ == ' ' || *p_ == '\n' || *p_ == '\r' || *p_ == '\t')) ++p_;
  }

  const char* p_;
  const char* end_;
};

// One member name read once at most: `seen` collects a bit per name.
bool first_time(unsigned& seen, unsigned bit) {
  if (seen & bit) return false;  // a repeated member: the tree reader keeps the last one
  seen |= bit;
  return true;
}

struct ScannedMessage {
  std::int64_t type = 0, device = 0, registration = 0;
  std::string_view content;
};

bool scan_message(Scanner& in, std::vector<ScannedMessage>& out) {
  if (out.size() == kMaxMessagesPerSend) return false;
  ScannedMessage m;
  unsigned seen = 0;
  auto integer_into = [&](std::int64_t& target) {
    auto v = in.integer();
    if (v) target = *v;
    return v.has_value();
  };
  bool read = in.object([&](std::string_view key) {
    if (key == "type") return first_time(seen, 1) && integer_into(m.type);
    if (key == "destinationDeviceId") return first_time(seen, 2) && integer_into(m.device);
    if (key == "destinationRegistrationId") return first_time(seen, 4) && integer_into(m.registration);
    if (key == "content") {
      auto v = in.string();
      if (v) m.content = *v;
      return first_time(seen, 8) && v.has_value();
    }
    return in.skip_scalar();
  });
  if (!read || seen != 15) return false;
  out.push_back(m);
  return true;
}

// The members a send body or a socket frame may have, as read by the scanner.
struct ScannedFrame {
  unsigned seen = 0;
  std::string_view type, request_id, destination;
  std::int64_t timestamp = 0;
  std::vector<ScannedMessage> messages;
  std::vector<std::int64_t> ids;
};

enum : unsigned { kType = 1, kRequestId = 2, kDestination = 4, kTimestamp = 8, kMessages = 16, kIds = 32 };

// Reads the whole text as one object of the members in `allowed`, followed by nothing but white space.
std::optional<ScannedFrame> scan_frame(std::string_view text, unsigned allowed) {
  Scanner in(text);
  ScannedFrame f;
  auto string_into = [&](std::string_view& target) {
    auto v = in.string();
    if (v) target = *v;
    return v.has_value();
  };
  auto member = [&](std::string_view key) -> bool {
    unsigned bit = key == "type"          ? kType
                   : key == "requestId"   ? kRequestId
                   : key == "destination" ? kDestination
                   : key == "timestamp"   ? kTimestamp
                   : key == "messages"    ? kMessages
                   : key == "ids"         ? kIds
                                          : 0u;
    if (!(bit & allowed)) return in.skip_scalar();
    if (!first_time(f.seen, bit)) return false;
    switch (bit) {
      case kType: return string_into(f.type);
      case kRequestId: return string_into(f.request_id);
      case kDestination: return string_into(f.destination);
      case kTimestamp: {
        auto v = in.integer();
        if (v) f.timestamp = *v;
        return v.has_value();
      }
      case kMessages: return in.array([&] { return scan_message(in, f.messages); });
      default:
        return in.array([&] {
          if (f.ids.size() == kMaxAckIds) return false;
          auto v = in.integer();
          if (v) f.ids.push_back(*v);
          return v.has_value();
        });
    }
  };
  if (!in.object(member) || !in.at_end()) return std::nullopt;
  return f;
}

// The send request of a scanned frame holding timestamp and messages (both required).
std::optional<Result<MessageSendRequest>> send_from_scan(ScannedFrame& f, std::string destination,
                                                         std::size_t max_content) {
  if (!(f.seen & kTimestamp) || !(f.seen & kMessages)) return std::nullopt;
  MessageSendRequest send;
  send.destination_uuid = std::move(destination);
  send.timestamp = f.timestamp;
  send.messages.reserve(f.messages.size());
  for (std::size_t i = 0; i < f.messages.size(); ++i) {
    const ScannedMessage& m = f.messages[i];
    std::string path = message_path(i);
    Status numbers = check_message_numbers(path, m.type, m.device, m.registration);
    if (!numbers.ok()) return Result<MessageSendRequest>(numbers.take_error());
    auto content = decode_content(path, m.content, max_content);
    if (!content.ok()) return Result<MessageSendRequest>(content.take_error());
    send.messages.push_back(envelope_of(m.type, m.device, m.registration, std::move(*content)));
  }
  return Result<MessageSendRequest>(std::move(send));
}

}  // namespace

Result<MessageSendRequest> parse_send_body_tree(std::string_view body, std::string destination,
                                                std::size_t max_content) {
  auto json = parse_json_object(body);
  if (!json.ok()) return json.take_error();
  return send_from_tree(*json, std::move(destination), max_content);
}

std::optional<Result<MessageSendRequest>> scan_send_body(std::string_view body, const std::string& destination,
                                                         std::size_t max_content) {
  auto f = scan_frame(body, kTimestamp | kMessages);
  if (!f) return std::nullopt;
  return send_from_scan(*f, destination, max_content);
}

Result<MessageSendRequest> parse_send_body(std::string_view body, std::string destination, std::size_t max_content) {
  if (auto scanned = scan_send_body(body, destination, max_content)) return std::move(*scanned);
  return parse_send_body_tree(body, std::move(destination), max_content);
}

SocketFrame parse_socket_frame_tree(std::string_view text, std::size_t max_content) {
  auto frame = nlohmann::json::parse(text, nullptr, false);
  if (frame.is_discarded() || !frame.is_object()) return FrameError{"a frame must be a JSON object"};
  auto type = frame.find("type");
  if (type == frame.end() || !type->is_string()) return FrameError{"type must be a string"};
  if (*type == "ack") {
    auto ids = frame.find("ids");
    if (ids == frame.end() || !ids->is_array()) return FrameError{"ids must be an array"};
    if (ids->size() > kMaxAckIds) return FrameError{"ids holds more than 1000 ids"};
    AckFrame ack;
    ack.ids.reserve(ids->size());
    for (const auto& id : *ids) {
      if (!id.is_number_integer()) return FrameError{"ids must hold integers"};
      ack.ids.push_back(id.get<std::int64_t>());
    }
    return ack;
  }
  if (*type != "send") return FrameError{"unknown frame type"};
  auto request_id = frame.find("requestId");
  if (request_id == frame.end() || !request_id->is_string() ||
      request_id->get_ref<const std::string&>().size() > kMaxRequestIdBytes)
    return FrameError{"requestId must be a string of at most 64 bytes"};
  auto destination = frame.find("destination");
  if (destination == frame.end() || !destination->is_string()) return FrameError{"destination must be a string"};
  return SendFrame{request_id->dump(), send_from_tree(frame, destination->get<std::string>(), max_content)};
}

std::optional<SocketFrame> scan_socket_frame(std::string_view text, std::size_t max_content) {
  auto f = scan_frame(text, kType | kRequestId | kDestination | kTimestamp | kMessages | kIds);
  if (!f || !(f->seen & kType)) return std::nullopt;
  if (f->type == "ack") {
    if (!(f->seen & kIds)) return std::nullopt;
    return AckFrame{std::move(f->ids)};
  }
  if (f->type != "send") return FrameError{"unknown frame type"};
  if (!(f->seen & kRequestId) || f->request_id.size() > kMaxRequestIdBytes || !(f->seen & kDestination))
    return std::nullopt;
  auto request = send_from_scan(*f, std::string(f->destination), max_content);
  if (!request) return std::nullopt;
  // The scanner's strings are printable ASCII without quotes or backslashes: quoting them needs no escape.
  std::string quoted_id;
  quoted_id.reserve(f->request_id.size() + 2);
  quoted_id.append(1, '"').append(f->request_id).append(1, '"');
  return SendFrame{std::move(quoted_id), std::move(*request)};
}

SocketFrame parse_socket_frame(std::string_view text, std::size_t max_content) {
  if (auto scanned = scan_socket_frame(text, max_content)) return std::move(*scanned);
  return parse_socket_frame_tree(text, max_content);
}

std::string describe(const Result<MessageSendRequest>& request) {
  if (!request.ok()) {
    const Error& e = request.error();
    return "error " + std::string(error_code_name(e.code)) + ": " + e.message + " " + e.details.dump();
  }
  std::string out = "send to " + request->destination_uuid + " at " + std::to_string(request->timestamp) + ":";
  for (const OutgoingEnvelope& m : request->messages)
    out += " {" + std::to_string(m.type) + " " + std::to_string(m.destination_device) + " " +
           std::to_string(m.destination_registration_id) + " " + hex_encode(m.content) + "}";
  return out;
}

std::string describe(const SocketFrame& frame) {
  if (const auto* ack = std::get_if<AckFrame>(&frame)) {
    std::string out = "ack";
    for (std::int64_t id : ack->ids) out += " " + std::to_string(id);
    return out;
  }
  if (const auto* send = std::get_if<SendFrame>(&frame)) return send->quoted_request_id + " " + describe(send->request);
  return "frame error: " + std::get<FrameError>(frame).message;
}

}  // namespace latchkey
