// Linked devices and the provisioning flow (docs/api.md, "Keys, devices and the message relay").
#include <charconv>

#include "core/encoding.h"
#include "crypto/random.h"
#include "net/api_routes.h"
#include "net/request_parsing.h"

namespace latchkey {
namespace {

// The socket of a device being linked: it learns its address, then waits for one provisioning message.
class ProvisioningSocket final : public WebSocketSession,
                                 public ProvisioningListener,
                                 public std::enable_shared_from_this<ProvisioningSocket> {
 public:
  ProvisioningSocket(ProvisioningRegistry& registry, std::shared_ptr<WebSocketChannel> channel, std::string address,
                     Duration ttl)
      : registry_(registry), channel_(std::move(channel)), address_(std::move(address)), ttl_(ttl) {}

  void on_open() override {
    registry_.add(address_, shared_from_this());
    channel_->send(nlohmann::json{{"type", "address"}, {"address", address_}}.dump());
    std::weak_ptr<ProvisioningSocket> weak = shared_from_this();
    channel_->schedule(std::chrono::duration_cast<std::chrono::milliseconds>(ttl_), [weak] {
      if (auto self = weak.lock()) self->channel_->close(kCloseNormal, "expired");
    });
  }
  void on_text(std::string_view) override {}  // the new device has nothing to say
  void on_closed() override { registry_.remove(address_, this); }

  void deliver(std::string body) override {
    channel_->send(nlohmann::json{{"type", "message"}, {"body", base64_encode(body)}}.dump());
    channel_->close(kCloseNormal, "");
  }

 private:
  ProvisioningRegistry& registry_;
  std::shared_ptr<WebSocketChannel> channel_;
  const std::string address_;
  const Duration ttl_;
};

nlohmann::json device_json(const Device& d) {
  return {{"id", d.id},
          {"name", d.name.empty() ? nlohmann::json() : nlohmann::json(d.name)},  // as the client sent it
          {"registrationId", d.registration_id},
          {"created", d.created_at},
          {"lastSeen", d.last_seen_at}};
}

}  // namespace

void add_device_routes(Router& router, AccountService& accounts, DeviceService& devices,
                       ProvisioningRegistry& provisioning, Limits& limits, const Clock& clock, Random& random,
                       const DevicesConfig& config) {
  router.add("GET", "/v1/devices", HandlerPool::kWorker, [&accounts, &devices](HttpRequest& request) {
    auto caller = authenticate_device(accounts, request);
    if (!caller.ok()) return HttpResponse::error(caller.error());
    auto list = devices.list(*caller);
    if (!list.ok()) return HttpResponse::error(list.error());
    nlohmann::json out = nlohmann::json::array();
    for (const Device& d : *list) out.push_back(device_json(d));
    return HttpResponse::json(200, {{"devices", std::move(out)}});
  });

  router.add("POST", "/v1/devices/provisioning/code", HandlerPool::kWorker, [&accounts, &devices](HttpRequest& request) {
    auto caller = authenticate_device(accounts, request);
    if (!caller.ok()) return HttpResponse::error(caller.error());
    auto code = devices.issue_link_code(*caller);
    if (!code.ok()) return HttpResponse::error(code.error());
    return HttpResponse::json(
        200, {{"verificationCode", code->code},
              {"expiresIn", std::chrono::duration_cast<std::chrono::seconds>(code->ttl).count()}});
  });

  router.add("PUT", "/v1/devices/link", HandlerPool::kWorker, [&devices](HttpRequest& request) {
    auto body = parse_json_object(request.body);
    if (!body.ok()) return HttpResponse::error(body.error());
    auto code = required_string(*body, "", "verificationCode", 256);
    if (!code.ok()) return HttpResponse::error(code.error());
    auto password = required_string(*body, "", "password", 4096);
    if (!password.ok()) return HttpResponse::error(password.error());
    auto registration_id = required_integer(*body, "", "registrationId");
    if (!registration_id.ok()) return HttpResponse::error(registration_id.error());
    auto name = optional_string(*body, "", "name", 64 * 1024);
    if (!name.ok()) return HttpResponse::error(name.error());
    LinkRequest link{*code, *password, *registration_id, name->value_or(""), request.client_ip};
    auto linked = devices.link(link);
    if (!linked.ok()) return HttpResponse::error(linked.error());
    return HttpResponse::json(200, {{"uuid", linked->uuid}, {"deviceId", linked->device_id}});
  });

  router.add("DELETE", "/v1/devices/{id}", HandlerPool::kWorker, [&accounts, &devices](HttpRequest& request) {
    auto caller = authenticate_device(accounts, request);
    if (!caller.ok()) return HttpResponse::error(caller.error());
    const std::string& text = request.path_params[0];
    std::uint32_t id = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
    if (ec != std::errc() || end != text.data() + text.size() || id == 0)
      return HttpResponse::error(make_error(ErrorCode::kMalformedRequest, "the device id must be a positive integer"));
    Status removed = devices.remove(*caller, id);
    return removed.ok() ? HttpResponse::no_content() : HttpResponse::error(removed.error());
  });

  router.add("PUT", "/v1/provisioning/{address}", HandlerPool::kWorker,
             [&accounts, &provisioning, &limits, &clock, &config](HttpRequest& request) {
               auto caller = authenticate_device(accounts, request);
               if (!caller.ok()) return HttpResponse::error(caller.error());
               auto body = parse_json_object(request.body);
               if (!body.ok()) return HttpResponse::error(body.error());
               auto it = body->find("body");
               auto message = decode_base64(it == body->end() ? nlohmann::json() : *it, "body",
                                            config.max_provisioning_bytes);
               if (!message.ok()) return HttpResponse::error(message.error());
               if (message->size() > config.max_provisioning_bytes)
                 return HttpResponse::error(make_error(ErrorCode::kMalformedRequest, "body is too long"));
               Status allowed = limits.check(Limit::kProvisioningPerAccount, caller->uuid, clock.now_ms());
               if (!allowed.ok()) return HttpResponse::error(allowed.error());
               Status delivered = provisioning.deliver(request.path_params[0], std::move(*message));
               return delivered.ok() ? HttpResponse::no_content() : HttpResponse::error(delivered.error());
             });

  router.add_websocket("/v1/websocket/provisioning",
                       [&provisioning, &random, &config](HttpRequest&, std::shared_ptr<WebSocketChannel> channel)
                           -> Result<std::shared_ptr<WebSocketSession>> {
                         std::string address = base64url_encode(random_bytes(random, 32));
                         return std::shared_ptr<WebSocketSession>(std::make_shared<ProvisioningSocket>(
                             provisioning, std::move(channel), std::move(address), config.provisioning_socket_ttl));
                       });
}

}  // namespace latchkey
