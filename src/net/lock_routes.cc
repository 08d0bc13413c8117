#include "core/encoding.h"
#include "net/api_routes.h"
#include "net/request_parsing.h"

namespace latchkey {
namespace {

// A base64 field decoded to bytes; kMalformedRequest naming the field when it is missing or not base64.
Result<std::string> base64_field(const nlohmann::json& body, const char* key, std::size_t max_text) {
  auto text = required_string(body, "", key, max_text);
  if (!text.ok()) return text.take_error();
  auto bytes = base64_decode(*text);
  if (!bytes) bytes = base64url_decode(*text);
  if (!bytes) return make_error(ErrorCode::kMalformedRequest, std::string(key) + " must be base64");
  return *bytes;
}

}  // namespace

void add_lock_routes(Router& router, AccountService& accounts, RegistrationLockService& lock, BackupService& backups,
                     TakeoverGuard& takeover, const Clock& clock) {
  for (bool approve : {false, true}) {
    router.add("POST", approve ? "/v1/accounts/takeover/{id}/approve" : "/v1/accounts/takeover/{id}/deny",
               HandlerPool::kWorker, [&accounts, &takeover, approve](HttpRequest& request) {
                 auto device = authenticate_device(accounts, request);
                 if (!device.ok()) return HttpResponse::error(device.error());
                 const std::string& id = request.path_params.at(0);
                 Status decided = approve ? takeover.approve(device->uuid, id) : takeover.deny(device->uuid, id);
                 return decided.ok() ? HttpResponse::no_content() : HttpResponse::error(decided.error());
               });
  }

  router.add("PUT", "/v1/accounts/registration_lock", HandlerPool::kWorker, [&accounts, &lock](HttpRequest& request) {
    auto device = authenticate_device(accounts, request);
    if (!device.ok()) return HttpResponse::error(device.error());
    auto body = parse_json_object(request.body);
    if (!body.ok()) return HttpResponse::error(body.error());
    auto token = required_string(*body, "", "registrationLock", 64);
    if (!token.ok()) return HttpResponse::error(token.error());
    Status set = lock.set(device->uuid, *token);
    return set.ok() ? HttpResponse::no_content() : HttpResponse::error(set.error());
  });

  router.add("DELETE", "/v1/accounts/registration_lock", HandlerPool::kWorker, [&accounts, &lock](HttpRequest& request) {
    auto device = authenticate_device(accounts, request);
    if (!device.ok()) return HttpResponse::error(device.error());
    Status cleared = lock.clear(device->uuid);
    return cleared.ok() ? HttpResponse::no_content() : HttpResponse::error(cleared.error());
  });

  // Storing and exposing need the account's own device credentials: the backup credentials a 423 hands out
  // (possibly to an attacker holding an SMS code) can only attempt a restore, never overwrite the backup.
  router.add("PUT", "/v1/backup", HandlerPool::kWorker, [&accounts, &backups](HttpRequest& request) {
    auto device = authenticate_device(accounts, request);
    if (!device.ok()) return HttpResponse::error(device.error());
    auto body = parse_json_object(request.body);
    if (!body.ok()) return HttpResponse::error(body.error());
    auto access_key = base64_field(*body, "accessKey", 128);
    if (!access_key.ok()) return HttpResponse::error(access_key.error());
    auto data = base64_field(*body, "data", 128);
    if (!data.ok()) return HttpResponse::error(data.error());
    std::int64_t max_tries = BackupService::kDefaultMaxTries;
    if (body->contains("maxTries") && !(*body)["maxTries"].is_null()) {
      auto tries = required_integer(*body, "", "maxTries");
      if (!tries.ok()) return HttpResponse::error(tries.error());
      if (*tries < 1 || *tries > 255)
        return HttpResponse::error(make_error(ErrorCode::kMalformedRequest, "maxTries must be 1 to 255"));
      max_tries = *tries;
    }
    Status stored = backups.put(device->uuid, *access_key, *data, static_cast<int>(max_tries));
    return stored.ok() ? HttpResponse::no_content() : HttpResponse::error(stored.error());
  });

  router.add("POST", "/v1/backup/expose", HandlerPool::kWorker, [&accounts, &backups](HttpRequest& request) {
    auto device = authenticate_device(accounts, request);
    if (!device.ok()) return HttpResponse::error(device.error());
    auto body = parse_json_object(request.body);
    if (!body.ok()) return HttpResponse::error(body.error());
    auto data = base64_field(*body, "data", 128);
    if (!data.ok()) return HttpResponse::error(data.error());
    Status exposed = backups.expose(device->uuid, *data);
    return exposed.ok() ? HttpResponse::no_content() : HttpResponse::error(exposed.error());
  });

  router.add("POST", "/v1/backup/restore", HandlerPool::kWorker,
             [&accounts, &lock, &backups, &clock](HttpRequest& request) {
               auto credentials = basic_credentials(request);
               if (!credentials.ok()) return HttpResponse::error(credentials.error());
               std::string uuid;
               if (auto backup_uuid =
                       lock.verify_backup_credentials(credentials->username, credentials->password, clock.now_ms())) {
                 uuid = *backup_uuid;
               } else {
                 auto device = accounts.authenticate(credentials->username, credentials->password);
                 if (!device.ok()) return HttpResponse::error(device.error());
                 uuid = device->uuid;
               }
               auto body = parse_json_object(request.body);
               if (!body.ok()) return HttpResponse::error(body.error());
               auto access_key = base64_field(*body, "accessKey", 128);
               if (!access_key.ok()) return HttpResponse::error(access_key.error());
               auto restored = backups.restore(uuid, *access_key);
               if (!restored.ok()) return HttpResponse::error(restored.error());
               return HttpResponse::json(
                   200, {{"data", base64_encode(restored->data)}, {"triesRemaining", restored->tries_remaining}});
             });
}

}  // namespace latchkey
