#include <charconv>

#include "net/api_routes.h"
#include "net/request_parsing.h"

namespace latchkey {
namespace {

// Longer ids cannot exist; they are looked up anyway and answered as an unknown session.
constexpr std::size_t kMaxSessionIdBytes = 1024;

nlohmann::json device_identity(const std::string& uuid, const std::string& number, std::uint32_t device_id) {
  return {{"uuid", uuid}, {"number", number}, {"deviceId", device_id}};
}

}  // namespace

Result<AuthenticatedDevice> authenticate_device(AccountService& accounts, const HttpRequest& request) {
  auto credentials = basic_credentials(request);
  if (!credentials.ok()) return credentials.take_error();
  return accounts.authenticate(credentials->username, credentials->password);
}

std::optional<Result<AuthenticatedDevice>> authenticate_device_if_cached(AccountService& accounts,
                                                                         const HttpRequest& request) {
  auto credentials = basic_credentials(request);
  if (!credentials.ok()) return Result<AuthenticatedDevice>(credentials.take_error());
  return accounts.authenticate_if_cached(credentials->username, credentials->password);
}

void add_account_routes(Router& router, AccountService& accounts, NoticeStore& notices) {
  router.add("POST", "/v1/registration", HandlerPool::kWorker, [&accounts](HttpRequest& request) {
    auto credentials = basic_credentials(request);
    if (!credentials.ok()) return HttpResponse::error(credentials.error());
    auto body = parse_json_object(request.body);
    if (!body.ok()) return HttpResponse::error(body.error());
    auto recovery_password = optional_string(*body, "", "recoveryPassword", 256);
    if (!recovery_password.ok()) return HttpResponse::error(recovery_password.error());
    Result<std::string> session_id = std::string();
    if (!recovery_password->has_value() || body->contains("sessionId")) {
      session_id = required_string(*body, "", "sessionId", kMaxSessionIdBytes);
      if (!session_id.ok()) return HttpResponse::error(session_id.error());
      if (recovery_password->has_value())
        return HttpResponse::error(
            make_error(ErrorCode::kMalformedRequest, "send either sessionId or recoveryPassword, not both"));
    }
    auto attributes = body->find("accountAttributes");
    if (attributes == body->end() || !attributes->is_object())
      return HttpResponse::error(make_error(ErrorCode::kMalformedRequest, "accountAttributes must be an object"));
    auto registration_id = required_integer(*attributes, "accountAttributes", "registrationId");
    if (!registration_id.ok()) return HttpResponse::error(registration_id.error());
    auto name = optional_string(*attributes, "accountAttributes", "name", 64 * 1024);
    if (!name.ok()) return HttpResponse::error(name.error());
    auto lock = optional_string(*attributes, "accountAttributes", "registrationLock", 64);
    if (!lock.ok()) return HttpResponse::error(lock.error());
    auto new_recovery_password = optional_string(*attributes, "accountAttributes", "recoveryPassword", 256);
    if (!new_recovery_password.ok()) return HttpResponse::error(new_recovery_password.error());

    RegistrationRequest r{credentials->username, credentials->password, *session_id, *registration_id, *name,
                          *lock, *new_recovery_password, *recovery_password};
    auto registered = accounts.register_account(r);
    if (!registered.ok()) return HttpResponse::error(registered.error());
    if (registered->pending)
      return HttpResponse::json(202, {{"status", "pending_takeover"},
                                      {"notBefore", registered->pending->not_before},
                                      {"takeoverId", registered->pending->id}});
    return HttpResponse::json(200, device_identity(registered->uuid, registered->number, registered->device_id));
  });

  router.add("GET", "/v1/accounts/whoami", HandlerPool::kWorker, [&accounts](HttpRequest& request) {
    auto device = authenticate_device(accounts, request);
    if (!device.ok()) return HttpResponse::error(device.error());
    return HttpResponse::json(200, device_identity(device->uuid, device->number, device->device.id));
  });

  router.add("GET", "/v1/accounts/notices", HandlerPool::kWorker, [&accounts, &notices](HttpRequest& request) {
    auto device = authenticate_device(accounts, request);
    if (!device.ok()) return HttpResponse::error(device.error());
    std::int64_t after = 0;
    if (request.query.rfind("after=", 0) == 0) {
      std::string value = request.query.substr(6);
      auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), after);
      if (ec != std::errc() || end != value.data() + value.size() || after < 0)
        return HttpResponse::error(make_error(ErrorCode::kMalformedRequest, "after must be a notice id"));
    } else if (!request.query.empty()) {
      return HttpResponse::error(make_error(ErrorCode::kMalformedRequest, "the only query parameter is after"));
    }
    auto list = notices.list(device->uuid, after, 100);
    if (!list.ok()) return HttpResponse::error(list.error());
    nlohmann::json items = nlohmann::json::array();
    for (const Notice& n : *list) {
      auto details = nlohmann::json::parse(n.details_json, nullptr, false);
      items.push_back({{"id", n.id}, {"kind", n.kind}, {"time", n.created_at},
                       {"details", details.is_discarded() ? nlohmann::json::object() : details}});
    }
    return HttpResponse::json(200, {{"notices", items}});
  });

  router.add("DELETE", "/v1/accounts/me", HandlerPool::kWorker, [&accounts](HttpRequest& request) {
    auto device = authenticate_device(accounts, request);
    if (!device.ok()) return HttpResponse::error(device.error());
    Status deleted = accounts.delete_account(*device);
    if (!deleted.ok()) return HttpResponse::error(deleted.error());
    return HttpResponse::no_content();
  });
}

}  // namespace latchkey
