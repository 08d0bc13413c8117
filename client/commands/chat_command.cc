// `latchkey chat +NUMBER|UUID`: an interactive conversation. Lines typed on stdin are sent; messages are
// printed as they arrive over the message socket. One thread reads stdin into a queue; the main thread
// owns the socket, the store and the sessions.
#include <condition_variable>
#include <deque>
#include <iostream>
#include <mutex>
#include <thread>

#include "client/commands/commands.h"
#include "client/core/exit_codes.h"
#include "client/messages/message_receiver.h"
#include "client/messages/message_sender.h"
#include "client/net/websocket_client.h"
#include "client/signal/session_crypto.h"

namespace latchkey::client {
namespace {

// Lines typed by the user. Thread-safe.
class InputQueue {
 public:
  void push(std::string line) {
    std::lock_guard lock(mutex_);
    lines_.push_back(std::move(line));
  }
  void close() {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  // The next line if one is waiting; nullopt otherwise. `closed` is set once stdin ended and all was taken.
  std::optional<std::string> pop(bool& closed) {
    std::lock_guard lock(mutex_);
    closed = closed_ && lines_.empty();
    if (lines_.empty()) return std::nullopt;
    std::string line = std::move(lines_.front());
    lines_.pop_front();
    return line;
  }

 private:
  std::mutex mutex_;
  std::deque<std::string> lines_;  // guarded by mutex_
  bool closed_ = false;            // guarded by mutex_
};

}  // namespace

Result<int> run_chat(const GlobalOptions& global, const std::string& recipient) {
  auto opened = Device::open(global);
  if (!opened.ok()) return opened.take_error();
  Device& device = **opened;
  auto peer = resolve_recipient(device, recipient);
  if (!peer.ok()) return peer.take_error();
  auto socket = WebSocketClient::connect(device.http().server(), "/v1/websocket", device.credentials(),
                                         std::chrono::seconds(15));
  if (!socket.ok()) return socket.take_error();
  WebSocketClient& ws = **socket;
  MessageSender sender(device);
  const std::string peer_label = label_for(device, *peer);
  std::cerr << "Chat with " << peer_label << ". Type a line and press Enter to send; /safety shows the safety "
            << "number; Ctrl-D or /quit leaves." << std::endl;
  (void)warn_identity_changes(device);

  auto input = std::make_shared<InputQueue>();
  std::thread([input] {
    std::string line;
    while (std::getline(std::cin, line)) input->push(line);
    input->close();
  }).detach();

  std::size_t warned_changes = device.protocol().identity_changes().size();
  for (;;) {
    auto frame = ws.read(std::chrono::milliseconds(150));
    if (frame.ok()) {
      auto json = nlohmann::json::parse(*frame, nullptr, false);
      if (json.is_object() && json.value("type", "") == "envelope") {
        auto message = decrypt_envelope(device, json);
        if (message.ok()) {
          std::cout << message_text(device, *message) << std::endl;
        } else if (message.error().code != kDuplicateMessage) {
          std::cerr << "(a message did not decrypt: " << message.error().message << ")" << std::endl;
        }
        std::int64_t id = envelope_id(json);
        if (id != 0) LK_RETURN_IF_ERROR(ws.write(nlohmann::json{{"type", "ack"}, {"ids", {id}}}.dump()));
      }
    } else if (frame.error().kind != ErrorKind::kTimeout) {
      return frame.take_error();
    }
    bool closed = false;
    while (auto line = input->pop(closed)) {
      if (line->empty()) continue;
      if (*line == "/quit") {
        closed = true;
        break;
      }
      if (*line == "/safety") {
        auto record = device.store().identity(*peer);
        if (record.ok() && record->has_value()) {
          auto digits = safety_number(device.protocol(), device.account().uuid, device.account().identity_public,
                                      *peer, (*record)->key);
          if (digits.ok()) std::cout << format_safety_number(*digits) << std::endl;
        } else {
          std::cout << "(no identity key yet: send a message first)" << std::endl;
        }
        continue;
      }
      auto sent = sender.send_text(*peer, *line);
      if (!sent.ok()) {
        if (sent.error().kind == ErrorKind::kUnregistered) return sent.take_error();
        std::cerr << "(not sent: " << sent.error().message << ")" << std::endl;
      }
    }
    if (device.protocol().identity_changes().size() != warned_changes) {
      warned_changes = device.protocol().identity_changes().size();
      (void)warn_identity_changes(device);
    }
    if (closed) break;
  }
  ws.close();
  return static_cast<int>(kExitOk);
}

}  // namespace latchkey::client
