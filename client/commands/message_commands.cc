// `latchkey send`, `receive`, `safety-number`, `trust`.
#include <iostream>
#include <set>

#include "client/commands/commands.h"
#include "client/core/exit_codes.h"
#include "client/messages/message_receiver.h"
#include "client/messages/message_sender.h"
#include "client/net/websocket_client.h"
#include "client/signal/session_crypto.h"

namespace latchkey::client {
namespace {

using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

int exit_after_warnings(Device& device, int code) {
  auto changed = warn_identity_changes(device);
  if (changed.ok() && *changed && code == kExitOk) return kExitIdentityChanged;
  return code;
}

}  // namespace

Result<int> run_send(const GlobalOptions& global, const std::string& recipient, const std::string& text) {
  if (text.empty()) return make_error(ErrorKind::kUsage, "nothing to send");
  auto opened = Device::open(global);
  if (!opened.ok()) return opened.take_error();
  Device& device = **opened;
  auto uuid = resolve_recipient(device, recipient);
  if (!uuid.ok()) return uuid.take_error();
  MessageSender sender(device);
  LK_RETURN_IF_ERROR(sender.send_text(*uuid, text));
  if (global.json) {
    std::cout << nlohmann::json{{"sent", true}, {"to", *uuid}}.dump() << std::endl;
  }
  return exit_after_warnings(device, kExitOk);
}

Result<int> run_receive(const GlobalOptions& global, const ReceiveOptions& options) {
  auto opened = Device::open(global);
  if (!opened.ok()) return opened.take_error();
  Device& device = **opened;
  auto socket = WebSocketClient::connect(device.http().server(), "/v1/websocket", device.credentials(),
                                         std::chrono::seconds(15));
  if (!socket.ok()) return socket.take_error();
  WebSocketClient& ws = **socket;

  const bool limited = options.timeout_seconds > 0;
  const auto limit = milliseconds(static_cast<long long>(options.timeout_seconds * 1000));
  auto deadline = Clock::now() + limit;
  std::set<std::int64_t> seen;
  int result = kExitOk;
  bool drained = false;
  for (;;) {
    milliseconds wait = limited ? std::chrono::duration_cast<milliseconds>(deadline - Clock::now()) : milliseconds(60000);
    if (limited && wait.count() <= 0) {
      if (!options.follow && !drained) result = kExitTimeout;
      break;
    }
    auto frame = ws.read(wait);
    if (!frame.ok()) {
      if (frame.error().kind == ErrorKind::kTimeout) continue;
      if (ws.close_code() == kCloseConnectedElsewhere) {
        return make_error(ErrorKind::kNetwork, "another connection with this device's credentials replaced this one");
      }
      if (ws.close_code() == kCloseGoingAway) {
        return make_error(ErrorKind::kNetwork, "the server is shutting down; receive again later");
      }
      return frame.take_error();
    }
    auto json = nlohmann::json::parse(*frame, nullptr, false);
    if (!json.is_object()) continue;
    std::string type = json.value("type", "");
    if (type == "envelope") {
      std::int64_t id = envelope_id(json);
      if (id != 0 && seen.insert(id).second) {
        auto message = decrypt_envelope(device, json);
        if (message.ok()) {
          if (global.json) {
            std::cout << message_json(device, *message).dump() << std::endl;
          } else {
            std::cout << message_text(device, *message) << std::endl;
          }
        } else if (message.error().code != kDuplicateMessage) {
          std::cerr << "latchkey: dropped a message that does not decrypt (" << message.error().message << ")"
                    << std::endl;
        }
      }
      if (id != 0) {
        // Acknowledged after it was printed (or found undecryptable): deleted on the server.
        LK_RETURN_IF_ERROR(ws.write(nlohmann::json{{"type", "ack"}, {"ids", {id}}}.dump()));
      }
      if (options.follow && limited) deadline = Clock::now() + limit;
    } else if (type == "queue_empty") {
      drained = true;
      if (!options.follow) break;
    } else if (type == "error") {
      std::cerr << "latchkey: the server reported: " << json.value("error", "") << " " << json.value("message", "")
                << std::endl;
    }
  }
  ws.close();
  auto topped = top_up_prekeys(device);
  if (!topped.ok() && topped.error().kind == ErrorKind::kUnregistered) return topped.take_error();
  return exit_after_warnings(device, result);
}

Result<int> run_safety_number(const GlobalOptions& global, const std::string& recipient) {
  auto opened = Device::open(global);
  if (!opened.ok()) return opened.take_error();
  Device& device = **opened;
  auto uuid = resolve_recipient(device, recipient);
  if (!uuid.ok()) return uuid.take_error();
  if (*uuid == device.account().uuid) return make_error(ErrorKind::kUsage, "that is your own account");
  auto record = device.store().identity(*uuid);
  if (!record.ok()) return record.take_error();
  if (!record->has_value()) {
    MessageSender sender(device);
    auto found = sender.fetch_bundles(*uuid, "*");
    if (!found.ok()) return found.take_error();
    record = device.store().identity(*uuid);
    if (!record.ok()) return record.take_error();
    if (!record->has_value()) return make_error(ErrorKind::kUsage, recipient + " has no keys yet");
  }
  auto digits = safety_number(device.protocol(), device.account().uuid, device.account().identity_public, *uuid,
                              (*record)->key);
  if (!digits.ok()) return digits.take_error();
  bool changed = (*record)->changed_ms.has_value();
  if (global.json) {
    std::cout << nlohmann::json{{"contact", *uuid}, {"safetyNumber", *digits}, {"changed", changed}}.dump() << std::endl;
  } else {
    std::cout << "Safety number with " << label_for(device, *uuid) << (changed ? "  ** CHANGED **" : "") << ":\n"
              << format_safety_number(*digits) << std::endl;
  }
  return exit_after_warnings(device, kExitOk);
}

Result<int> run_trust(const GlobalOptions& global, const std::string& recipient) {
  auto opened = Device::open(global);
  if (!opened.ok()) return opened.take_error();
  Device& device = **opened;
  auto uuid = resolve_recipient(device, recipient);
  if (!uuid.ok()) return uuid.take_error();
  auto record = device.store().identity(*uuid);
  if (!record.ok()) return record.take_error();
  if (!record->has_value()) return make_error(ErrorKind::kUsage, "no identity key known for " + recipient + " yet");
  LK_RETURN_IF_ERROR(device.store().accept_identity(*uuid));
  if (global.json) {
    std::cout << nlohmann::json{{"accepted", *uuid}}.dump() << std::endl;
  } else {
    std::cout << "Accepted the current safety number with " << label_for(device, *uuid) << "." << std::endl;
  }
  return exit_after_warnings(device, kExitOk);
}

}  // namespace latchkey::client
