#include "client/commands/device.h"

#include <sodium.h>

#include <iostream>

#include "client/signal/keys.h"
#include "core/encoding.h"
#include "core/phone_number.h"

namespace latchkey::client {

Result<ServerUrl> choose_server(const GlobalOptions& options, const std::optional<Account>& account) {
  if (!options.server.empty()) return parse_server_url(options.server);
  if (account && !account->server.empty()) return parse_server_url(account->server);
  return parse_server_url(kDefaultServer);
}

Result<std::unique_ptr<Device>> Device::open(const GlobalOptions& options) {
  auto store = LocalStore::open(options.store_path);
  if (!store.ok()) return store.take_error();
  auto account = (*store)->account();
  if (!account.ok()) return account.take_error();
  if (!account->has_value()) {
    return make_error(ErrorKind::kUsage, "no account in " + options.store_path +
                                             ": run `latchkey register +NUMBER` or `latchkey link` first");
  }
  auto server = choose_server(options, *account);
  if (!server.ok()) return server.take_error();
  auto device = std::unique_ptr<Device>(new Device());
  device->store_ = std::move(*store);
  device->account_ = std::move(**account);
  device->http_ = std::make_unique<HttpClient>(*server);
  auto protocol = ProtocolContext::create(*device->store_, device->account_);
  if (!protocol.ok()) return protocol.take_error();
  device->protocol_ = std::move(*protocol);
  return device;
}

Result<HttpResponse> Device::call(std::string_view method, std::string_view path, const nlohmann::json& body) {
  auto response = http_->request(method, path, body, credentials());
  if (!response.ok()) return response;
  if (response->status == 401) return unexpected_answer(*response, std::string(method) + " " + std::string(path));
  return response;
}

Result<std::string> resolve_recipient(Device& device, const std::string& recipient) {
  if (!recipient.starts_with("+")) {
    if (recipient.size() != 36 || recipient[8] != '-' || recipient[13] != '-') {
      return make_error(ErrorKind::kUsage, "a recipient is a phone number (+33612345678) or an account uuid");
    }
    return recipient;
  }
  auto number = parse_phone_number(recipient);
  if (!number.ok()) return make_error(ErrorKind::kUsage, recipient + " is not a valid international phone number");
  const std::string& e164 = number->e164;
  if (e164 == device.account().number) return device.account().uuid;
  auto cached = device.store().uuid_for_number(e164);
  if (!cached.ok()) return cached.take_error();
  if (cached->has_value()) return **cached;
  auto response = device.call("GET", "/v1/directory/" + escape_path_segment(e164));
  if (!response.ok()) return response.take_error();
  if (response->status == 404) {
    return make_error(ErrorKind::kUsage, e164 + " has no Latchkey account");
  }
  if (response->status != 200 || !response->json.is_object() || !response->json.contains("uuid") ||
      !response->json["uuid"].is_string()) {
    return unexpected_answer(*response, "looking up " + e164);
  }
  std::string uuid = response->json["uuid"].get<std::string>();
  LK_RETURN_IF_ERROR(device.store().save_contact(e164, uuid));
  return uuid;
}

std::string label_for(Device& device, const std::string& uuid) {
  if (uuid == device.account().uuid) return device.account().number;
  auto number = device.store().number_for_uuid(uuid);
  if (number.ok() && number->has_value()) return **number;
  return uuid;
}

Status upload_keys(Device& device, bool with_signed_prekey, int prekey_count) {
  auto body = generate_key_upload(device.protocol(), with_signed_prekey, prekey_count);
  if (!body.ok()) return body.take_error();
  auto response = device.call("PUT", "/v2/keys", *body);
  if (!response.ok()) return response.take_error();
  if (response->status != 204 && response->status != 200) return unexpected_answer(*response, "uploading keys");
  return ok_status();
}

Status top_up_prekeys(Device& device) {
  auto response = device.call("GET", "/v2/keys");
  if (!response.ok()) return response.take_error();
  if (response->status != 200 || !response->json.is_object() || !response->json.contains("count")) {
    return unexpected_answer(*response, "counting prekeys");
  }
  if (response->json["count"].is_number_integer() && response->json["count"].get<int>() >= 20) return ok_status();
  return upload_keys(device, false, 100);
}

Result<bool> warn_identity_changes(Device& device) {
  auto changed = device.store().changed_identities();
  if (!changed.ok()) return changed.take_error();
  for (const auto& record : *changed) {
    std::string who = label_for(device, record.uuid);
    std::cerr << "\n"
              << "!!! WARNING: the safety number with " << who << " has CHANGED.\n"
              << "!!! Their identity key is not the one you saw before: they may have re-installed or\n"
              << "!!! re-registered, or someone may be intercepting your messages. Compare the new safety\n"
              << "!!! number in person (`latchkey safety-number " << who << "`), then accept it with\n"
              << "!!! `latchkey trust " << who << "`.\n\n";
  }
  return !changed->empty();
}

Result<std::string> prompt_line(const std::string& prompt) {
  std::cerr << prompt << std::flush;
  std::string line;
  if (!std::getline(std::cin, line)) return make_error(ErrorKind::kUsage, "no input (end of stdin)");
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
  while (!line.empty() && line.front() == ' ') line.erase(line.begin());
  return line;
}

std::string new_device_password() {
  std::string raw(24, '\0');
  randombytes_buf(raw.data(), raw.size());
  std::string password = base64url_encode(raw);
  sodium_memzero(raw.data(), raw.size());
  return password;
}

}  // namespace latchkey::client
