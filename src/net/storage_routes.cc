#include "core/encoding.h"
#include "encrypted_storage/encrypted_storage_service.h"
#include "net/api_routes.h"
#include "net/request_parsing.h"

namespace latchkey {
namespace {

// The decoded keys of a {"keys": [...]} body. Length limits are the service's; here only the format.
Result<std::vector<std::string>> parse_keys(const HttpRequest& request) {
  auto body = parse_json_object(request.body);
  if (!body.ok()) return body.take_error();
  auto array = required_array(*body, "keys");
  if (!array.ok()) return array.take_error();
  std::vector<std::string> keys;
  keys.reserve((*array)->size());
  for (std::size_t i = 0; i < (*array)->size(); ++i) {
    auto key = decode_base64((**array)[i], "keys[" + std::to_string(i) + "]", EncryptedStorageService::kMaxKeyBytes);
    if (!key.ok()) return key.take_error();
    keys.push_back(std::move(*key));
  }
  return keys;
}

}  // namespace

void add_storage_routes(Router& router, AccountService& accounts, EncryptedStorageService& storage) {
  router.add("GET", "/v1/storage/manifest", HandlerPool::kWorker, [&accounts, &storage](HttpRequest& request) {
    auto device = authenticate_device(accounts, request);
    if (!device.ok()) return HttpResponse::error(device.error());
    auto manifest = storage.get_manifest(device->uuid);
    if (!manifest.ok()) return HttpResponse::error(manifest.error());
    return HttpResponse::json(200, {{"version", manifest->version}, {"value", base64_encode(manifest->value)}});
  });

  router.add("PUT", "/v1/storage/manifest", HandlerPool::kWorker, [&accounts, &storage](HttpRequest& request) {
    auto device = authenticate_device(accounts, request);
    if (!device.ok()) return HttpResponse::error(device.error());
    auto body = parse_json_object(request.body);
    if (!body.ok()) return HttpResponse::error(body.error());
    auto version = required_integer(*body, "", "version");
    if (!version.ok()) return HttpResponse::error(version.error());
    auto it = body->find("value");
    auto value = decode_base64(it == body->end() ? nlohmann::json() : *it, "value",
                               storage.limits().storage_max_manifest_bytes);
    if (!value.ok()) return HttpResponse::error(value.error());
    Status stored = storage.put_manifest(device->uuid, StorageManifest{*version, std::move(*value)});
    return stored.ok() ? HttpResponse::no_content() : HttpResponse::error(stored.error());
  });

  router.add("PUT", "/v1/storage/items", HandlerPool::kWorker, [&accounts, &storage](HttpRequest& request) {
    auto device = authenticate_device(accounts, request);
    if (!device.ok()) return HttpResponse::error(device.error());
    auto body = parse_json_object(request.body);
    if (!body.ok()) return HttpResponse::error(body.error());
    auto array = required_array(*body, "items");
    if (!array.ok()) return HttpResponse::error(array.error());
    std::vector<StorageItem> items;
    items.reserve((*array)->size());
    for (std::size_t i = 0; i < (*array)->size(); ++i) {
      const nlohmann::json& entry = (**array)[i];
      const std::string path = "items[" + std::to_string(i) + "]";
      if (!entry.is_object())
        return HttpResponse::error(make_error(ErrorCode::kMalformedRequest, path + " must be an object"));
      auto key_it = entry.find("key");
      auto key = decode_base64(key_it == entry.end() ? nlohmann::json() : *key_it, path + ".key",
                               EncryptedStorageService::kMaxKeyBytes);
      if (!key.ok()) return HttpResponse::error(key.error());
      auto value_it = entry.find("value");
      auto value = decode_base64(value_it == entry.end() ? nlohmann::json() : *value_it, path + ".value",
                                 storage.limits().storage_max_value_bytes);
      if (!value.ok()) return HttpResponse::error(value.error());
      items.push_back(StorageItem{std::move(*key), std::move(*value)});
    }
    Status stored = storage.put_items(device->uuid, items);
    return stored.ok() ? HttpResponse::no_content() : HttpResponse::error(stored.error());
  });

  // Reads use POST because a body on GET is not portable through proxies and client libraries.
  router.add("POST", "/v1/storage/items/read", HandlerPool::kWorker, [&accounts, &storage](HttpRequest& request) {
    auto device = authenticate_device(accounts, request);
    if (!device.ok()) return HttpResponse::error(device.error());
    auto keys = parse_keys(request);
    if (!keys.ok()) return HttpResponse::error(keys.error());
    auto found = storage.read_items(device->uuid, *keys);
    if (!found.ok()) return HttpResponse::error(found.error());
    nlohmann::json items = nlohmann::json::array();
    for (const StorageItem& item : *found)
      items.push_back({{"key", base64_encode(item.key)}, {"value", base64_encode(item.value)}});
    return HttpResponse::json(200, {{"items", std::move(items)}});
  });

  router.add("DELETE", "/v1/storage/items", HandlerPool::kWorker, [&accounts, &storage](HttpRequest& request) {
    auto device = authenticate_device(accounts, request);
    if (!device.ok()) return HttpResponse::error(device.error());
    auto keys = parse_keys(request);
    if (!keys.ok()) return HttpResponse::error(keys.error());
    Status deleted = storage.delete_items(device->uuid, *keys);
    return deleted.ok() ? HttpResponse::no_content() : HttpResponse::error(deleted.error());
  });
}

}  // namespace latchkey
