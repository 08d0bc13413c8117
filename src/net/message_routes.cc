// Sending envelopes (PUT /v1/messages/{uuid}) and the authenticated message socket (GET /v1/websocket) that
// drains a device's queue and pushes new envelopes (docs/api.md, "The message socket").
#include <fmt/format.h>

#include <iterator>

#include "core/encoding.h"
#include "core/logging.h"
#include "net/api_routes.h"
#include "net/error_mapping.h"
#include "net/message_parsing.h"
#include "net/request_parsing.h"

namespace latchkey {
namespace {

// The JSON error body of `error` as REST would answer it, with its status.
std::pair<int, nlohmann::json> error_answer(const Error& error) {
  HttpResponse r = HttpResponse::error(error);
  return {r.status, nlohmann::json::parse(r.body, nullptr, false)};
}

// The envelope frame, formatted directly: every field is a number or a known-safe string (uuid, base64). Built in
// one allocation (the content's base64 is written in place).
std::string envelope_frame(const Envelope& e) {
  std::string frame;
  frame.reserve(192 + e.source_uuid.size() + (e.content.size() + 2) / 3 * 4);
  fmt::format_to(
      std::back_inserter(frame),
      R"({{"type":"envelope","id":{},"source":"{}","sourceDevice":{},"envelopeType":{},"timestamp":{},"serverTimestamp":{},"content":")",
      e.id, e.source_uuid, e.source_device, e.type, e.timestamp, e.server_timestamp);
  base64_append_public(frame, e.content);
  frame += "\"}";
  return frame;
}

std::string error_frame(const std::string& message) {
  return nlohmann::json{{"type", "error"}, {"error", "malformed_request"}, {"message", message}}.dump();
}

// One authenticated device's socket. Drains the queue in pages, then switches to live delivery: envelopes
// stored while it is connected are pushed as the store reports them. Ids grow in commit order, so after a
// drain whose last page ended at id N every envelope with a larger id is new, and every smaller one was sent.
class MessageSocket final : public WebSocketSession,
                            public PresenceListener,
                            public std::enable_shared_from_this<MessageSocket> {
 public:
  MessageSocket(MessageService& messages, ClientPresence& presence, AuthenticatedDevice device,
                std::shared_ptr<WebSocketChannel> channel)
      : messages_(messages), presence_(presence), device_(std::move(device)), channel_(std::move(channel)) {}

  void on_open() override {
    presence_.connect(device_.uuid, device_.device.id, shared_from_this());
    fetch_page();
  }

  void on_text(std::string_view text) override {
    SocketFrame frame = parse_socket_frame(text, messages_.config().max_content_bytes);
    if (auto* ack = std::get_if<AckFrame>(&frame)) return on_ack(std::move(*ack));
    if (auto* send = std::get_if<SendFrame>(&frame)) return on_send(std::move(*send));
    channel_->send(error_frame(std::get<FrameError>(frame).message));
  }

  void on_closed() override {
    closed_ = true;
    presence_.disconnect(device_.uuid, device_.device.id, this);
  }

  // From any thread.
  void deliver(std::shared_ptr<const Envelope> envelope) override {
    channel_->post([self = shared_from_this(), envelope = std::move(envelope)] {
      if (self->draining_) {
        self->more_pending_ = true;  // the next page will include it
      } else if (envelope->id > self->drained_up_to_) {
        self->channel_->send(envelope_frame(*envelope));
      }
    });
  }

  void disconnect(DisconnectReason reason) override {
    switch (reason) {
      case DisconnectReason::kUnregistered: return channel_->close(kCloseDeviceUnregistered, "device unregistered");
      case DisconnectReason::kDisplaced: return channel_->close(kCloseConnectedElsewhere, "connected elsewhere");
      case DisconnectReason::kShutdown: return channel_->close(kCloseGoingAway, "shutting down");
    }
  }

 private:
  // I/O thread: reads the next page on a worker, then continues on the I/O thread.
  void fetch_page() {
    draining_ = true;
    more_pending_ = false;
    channel_->post_work([self = shared_from_this(), after = last_fetched_] {
      auto page = self->messages_.fetch(self->device_.uuid, self->device_.device.id, after);
      self->channel_->post([self, page = std::move(page)]() mutable { self->on_page(std::move(page)); });
    });
  }

  void on_page(Result<std::vector<Envelope>> page) {
    if (closed_) return;
    if (!page.ok()) {
      log::warn("queue_read_failed", {{"error", page.error().message}});
      return channel_->close(kCloseInternalError, "storage unavailable; reconnect later");
    }
    for (const Envelope& e : *page) {
      channel_->send(envelope_frame(e));
      last_fetched_ = e.id;
    }
    if (page->size() >= static_cast<std::size_t>(messages_.config().fetch_batch) || more_pending_) {
      fetch_page();
      return;
    }
    draining_ = false;
    drained_up_to_ = last_fetched_;
    if (!sent_queue_empty_) {
      sent_queue_empty_ = true;
      channel_->send(R"({"type":"queue_empty"})");
    }
  }

  void on_ack(AckFrame ack) { messages_.acknowledge(device_.uuid, device_.device.id, std::move(ack.ids)); }

  // Parsed and checked on the I/O thread; stored without leaving it when the destination's devices are cached,
  // otherwise from a worker (the device list is read from storage). The answer comes back through the channel.
  void on_send(SendFrame frame) {
    auto quoted_id = std::make_shared<const std::string>(std::move(frame.quoted_request_id));
    MessageService::SendDone done = [channel = channel_, quoted_id](Result<MessageSendResult> result) {
      if (result.ok()) {
        return channel->send(fmt::format(R"({{"type":"send_result","requestId":{},"status":200,"body":{{"needsSync":{}}}}})",
                                         *quoted_id, result->needs_sync));
      }
      auto [status, body] = error_answer(result.error());
      channel->send(fmt::format(R"({{"type":"send_result","requestId":{},"status":{},"body":{}}})", *quoted_id, status,
                                body.dump()));
    };
    if (!frame.request.ok()) return done(frame.request.take_error());
    if (messages_.send_if_cached(device_, *frame.request, done)) return;
    channel_->post_work([self = shared_from_this(), request = std::move(*frame.request), done = std::move(done)]() mutable {
      self->messages_.send(self->device_, std::move(request), std::move(done));
    });
  }

  MessageService& messages_;
  ClientPresence& presence_;
  const AuthenticatedDevice device_;
  std::shared_ptr<WebSocketChannel> channel_;
  // I/O thread only:
  bool closed_ = false;
  bool draining_ = true;
  bool more_pending_ = false;
  bool sent_queue_empty_ = false;
  std::int64_t last_fetched_ = 0;
  std::int64_t drained_up_to_ = 0;
};

// The answer to PUT /v1/messages/{uuid} once the send is durable (or refused).
MessageService::SendDone answer_send(Responder respond) {
  return [respond = std::move(respond)](Result<MessageSendResult> result) {
    if (!result.ok()) return respond(HttpResponse::error(result.error()));
    respond(HttpResponse::json(200, {{"needsSync", result->needs_sync}}));
  };
}

}  // namespace

void add_message_routes(Router& router, AccountService& accounts, MessageService& messages, ClientPresence& presence) {
  // With the sender's credentials and the destination's devices in memory (the common case) the send is
  // checked and queued for its write on the I/O thread; otherwise on a worker, which reads storage.
  router.add_async(
      "PUT", "/v1/messages/{uuid}", HandlerPool::kWorker,
      [&accounts, &messages](HttpRequest& request, Responder respond) {
        auto sender = authenticate_device(accounts, request);
        if (!sender.ok()) return respond(HttpResponse::error(sender.error()));
        auto send =
            parse_send_body(request.body, request.path_params[0], messages.config().max_content_bytes);
        if (!send.ok()) return respond(HttpResponse::error(send.error()));
        messages.send(*sender, std::move(*send), answer_send(std::move(respond)));
      },
      [&accounts, &messages](HttpRequest& request, Responder& respond) {
        std::optional<Result<AuthenticatedDevice>> sender = authenticate_device_if_cached(accounts, request);
        if (!sender) return false;
        if (!sender->ok()) {
          respond(HttpResponse::error(sender->error()));
          return true;
        }
        auto send =
            parse_send_body(request.body, request.path_params[0], messages.config().max_content_bytes);
        if (!send.ok()) {
          respond(HttpResponse::error(send.error()));
          return true;
        }
        MessageService::SendDone done = answer_send(respond);
        // False when the destination's devices are not in memory: the worker reads them.
        return messages.send_if_cached(**sender, *send, done);
      });

  router.add_websocket("/v1/websocket", [&accounts, &messages, &presence](HttpRequest& request,
                                                                         std::shared_ptr<WebSocketChannel> channel)
                                            -> Result<std::shared_ptr<WebSocketSession>> {
    auto device = authenticate_device(accounts, request);
    if (!device.ok()) return device.take_error();
    return std::shared_ptr<WebSocketSession>(
        std::make_shared<MessageSocket>(messages, presence, std::move(*device), std::move(channel)));
  });
}

}  // namespace latchkey
