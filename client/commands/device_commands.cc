// `latchkey link`, `add-device URL`, `devices`, `remove-device ID`, `whoami`.
#include <ctime>
#include <iostream>

#include "client/commands/commands.h"
#include "client/core/exit_codes.h"
#include "client/net/websocket_client.h"
#include "client/provisioning/device_name.h"
#include "client/provisioning/provisioning.h"
#include "client/provisioning/terminal_qr.h"
#include "client/signal/keys.h"
#include "core/encoding.h"

namespace latchkey::client {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using Clock = std::chrono::steady_clock;

std::string format_time(std::int64_t ms) {
  if (ms <= 0) return "-";
  std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%d %H:%M", &tm);
  return buffer;
}

// Waits on the provisioning socket for the primary's message; answers its base64-decoded body.
Result<std::string> wait_for_provisioning(WebSocketClient& socket, Clock::time_point deadline) {
  for (;;) {
    auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return make_error(ErrorKind::kTimeout, "no provisioning message arrived in time");
    auto frame = socket.read(left);
    if (!frame.ok()) {
      if (frame.error().kind == ErrorKind::kNetwork && socket.close_reason() == "expired") {
        return make_error(ErrorKind::kTimeout, "the link address expired; run link again");
      }
      return frame.take_error();
    }
    auto json = nlohmann::json::parse(*frame, nullptr, false);
    if (json.is_object() && json.value("type", "") == "message" && json.contains("body") && json["body"].is_string()) {
      auto body = base64_decode(json["body"].get<std::string>());
      if (!body) return make_error(ErrorKind::kServer, "the provisioning message is not base64");
      return *body;
    }
  }
}

}  // namespace

Result<int> run_link(const GlobalOptions& global, const LinkOptions& options) {
  auto store = LocalStore::open(global.store_path);
  if (!store.ok()) return store.take_error();
  auto existing = (*store)->account();
  if (!existing.ok()) return existing.take_error();
  if (existing->has_value() && !options.force) {
    return make_error(ErrorKind::kUsage, "this store already holds the account of " + (*existing)->number +
                                             "; use another --store, or --force to replace it");
  }
  auto server = choose_server(global, std::nullopt);
  if (!server.ok()) return server.take_error();

  auto socket = WebSocketClient::connect(*server, "/v1/websocket/provisioning", std::nullopt, seconds(15));
  if (!socket.ok()) return socket.take_error();
  auto first = (*socket)->read(seconds(15));
  if (!first.ok()) return first.take_error();
  auto address_frame = nlohmann::json::parse(*first, nullptr, false);
  if (!address_frame.is_object() || address_frame.value("type", "") != "address" ||
      !address_frame.contains("address") || !address_frame["address"].is_string()) {
    return make_error(ErrorKind::kServer, "the provisioning socket did not send an address");
  }
  EphemeralKeyPair keys = generate_ephemeral_key_pair();
  std::string url = format_link_url({address_frame["address"].get<std::string>(), keys.public_key});
  if (global.json) {
    std::cout << nlohmann::json{{"linkUrl", url}}.dump() << std::endl;
  } else {
    auto qr = render_terminal_qr(url);
    if (qr.ok()) std::cout << *qr;
    std::cout << "Scan this code with your primary device, or run there:\n  latchkey add-device '" << url << "'\n"
              << url << std::endl;
  }
  std::cerr << "Waiting for the primary device..." << std::endl;

  auto sealed = wait_for_provisioning(**socket, Clock::now() + seconds(options.timeout_seconds));
  (*socket)->close();
  if (!sealed.ok()) return sealed.take_error();
  auto message = open_provisioning_message(*sealed, keys);
  if (!message.ok()) return message.take_error();

  auto keygen = ProtocolContext::create_without_account(**store);
  if (!keygen.ok()) return keygen.take_error();
  auto registration_id = generate_registration_id(**keygen);
  if (!registration_id.ok()) return registration_id.take_error();
  std::string password = new_device_password();
  nlohmann::json body = {{"verificationCode", message->verification_code},
                         {"password", password},
                         {"registrationId", *registration_id}};
  if (!options.name.empty()) body["name"] = encrypt_device_name(message->identity_private, options.name);
  HttpClient http(*server);
  auto linked = http.request("PUT", "/v1/devices/link", body, std::nullopt);
  if (!linked.ok()) return linked.take_error();
  if (linked->status == 403) {
    return make_error(ErrorKind::kUsage, "the server refused the link code (expired or already used); try again");
  }
  if (linked->status == 409) return make_error(ErrorKind::kUsage, "the account already has the most devices it may have");
  if (linked->status != 200 || !linked->json.is_object() || !linked->json.contains("deviceId")) {
    return unexpected_answer(*linked, "linking this device", false);
  }
  Account account;
  account.server = server->text;
  account.uuid = linked->json.value("uuid", message->uuid);
  account.number = message->number;
  account.device_id = linked->json["deviceId"].get<int>();
  account.password = password;
  account.registration_id = *registration_id;
  account.identity_public = message->identity_public;
  account.identity_private = message->identity_private;
  LK_RETURN_IF_ERROR((*store)->reset_device_state());
  LK_RETURN_IF_ERROR((*store)->save_account(account));
  keygen->reset();
  store->reset();

  auto device = Device::open(global);
  if (!device.ok()) return device.take_error();
  LK_RETURN_IF_ERROR(upload_keys(**device, true, 100));
  if (global.json) {
    std::cout << nlohmann::json{{"uuid", account.uuid}, {"number", account.number}, {"deviceId", account.device_id}}.dump()
              << std::endl;
  } else {
    std::cout << "Linked: this is device " << account.device_id << " of " << account.number << "." << std::endl;
  }
  return static_cast<int>(kExitOk);
}

Result<int> run_add_device(const GlobalOptions& global, const std::string& url_text) {
  auto url = parse_link_url(url_text);
  if (!url.ok()) return url.take_error();
  auto opened = Device::open(global);
  if (!opened.ok()) return opened.take_error();
  Device& device = **opened;
  if (device.account().device_id != 1) return make_error(ErrorKind::kUsage, "only the primary device (device 1) adds devices");

  auto code = device.call("POST", "/v1/devices/provisioning/code", nlohmann::json::object());
  if (!code.ok()) return code.take_error();
  if (code->status != 200 || !code->json.is_object() || !code->json.contains("verificationCode") ||
      !code->json["verificationCode"].is_string()) {
    return unexpected_answer(*code, "asking for a link code");
  }
  ProvisioningMessage message;
  message.uuid = device.account().uuid;
  message.number = device.account().number;
  message.identity_public = device.account().identity_public;
  message.identity_private = device.account().identity_private;
  message.verification_code = code->json["verificationCode"].get<std::string>();
  auto sealed = seal_provisioning_message(message, url->public_key);
  if (!sealed.ok()) return sealed.take_error();
  auto sent = device.call("PUT", "/v1/provisioning/" + escape_path_segment(url->address), {{"body", base64_encode(*sealed)}});
  if (!sent.ok()) return sent.take_error();
  if (sent->status == 404) {
    return make_error(ErrorKind::kUsage, "no new device is waiting at that address (it may have expired); run link again");
  }
  if (sent->status != 204 && sent->status != 200) return unexpected_answer(*sent, "sending the provisioning message");
  if (global.json) {
    std::cout << nlohmann::json{{"sent", true}}.dump() << std::endl;
  } else {
    std::cout << "Sent the account to the new device; it finishes linking on its own." << std::endl;
  }
  return static_cast<int>(kExitOk);
}

Result<int> run_devices(const GlobalOptions& global) {
  auto opened = Device::open(global);
  if (!opened.ok()) return opened.take_error();
  Device& device = **opened;
  auto response = device.call("GET", "/v1/devices");
  if (!response.ok()) return response.take_error();
  if (response->status != 200 || !response->json.is_object() || !response->json.contains("devices") ||
      !response->json["devices"].is_array()) {
    return unexpected_answer(*response, "listing devices");
  }
  for (const auto& d : response->json["devices"]) {
    int id = d.value("id", 0);
    std::string name;
    if (d.contains("name") && d["name"].is_string()) {
      // The server may answer the name as sent or base64-encoded once more; accept both.
      const std::string value = d["name"].get<std::string>();
      auto plain = decrypt_device_name(device.account().identity_private, value);
      if (!plain) {
        if (auto inner = base64_decode(value)) plain = decrypt_device_name(device.account().identity_private, *inner);
      }
      name = plain.value_or("");
    }
    bool self = id == device.account().device_id;
    if (global.json) {
      std::cout << nlohmann::json{{"id", id},
                                  {"name", name},
                                  {"created", d.value("created", std::int64_t{0})},
                                  {"lastSeen", d.value("lastSeen", std::int64_t{0})},
                                  {"thisDevice", self}}
                       .dump()
                << std::endl;
    } else {
      std::cout << id << "  " << (name.empty() ? "(no name)" : name) << "  created " << format_time(d.value("created", std::int64_t{0}))
                << "  last seen " << format_time(d.value("lastSeen", std::int64_t{0})) << (self ? "  (this device)" : "")
                << std::endl;
    }
  }
  return static_cast<int>(kExitOk);
}

Result<int> run_remove_device(const GlobalOptions& global, int device_id) {
  auto opened = Device::open(global);
  if (!opened.ok()) return opened.take_error();
  Device& device = **opened;
  auto response = device.call("DELETE", "/v1/devices/" + std::to_string(device_id));
  if (!response.ok()) return response.take_error();
  if (response->status == 404) return make_error(ErrorKind::kUsage, "there is no device " + std::to_string(device_id));
  if (response->status == 403) {
    return make_error(ErrorKind::kUsage, device_id == 1 ? "the primary device cannot be removed (delete the account instead)"
                                                        : "a linked device may remove only itself");
  }
  if (response->status != 204 && response->status != 200) return unexpected_answer(*response, "removing the device");
  bool self = device_id == device.account().device_id;
  if (self) LK_RETURN_IF_ERROR(device.store().reset_device_state());
  if (global.json) {
    std::cout << nlohmann::json{{"removed", device_id}, {"thisDevice", self}}.dump() << std::endl;
  } else if (self) {
    std::cout << "This device was removed from the account." << std::endl;
  } else {
    std::cout << "Removed device " << device_id << "." << std::endl;
  }
  return static_cast<int>(kExitOk);
}

Result<int> run_whoami(const GlobalOptions& global) {
  auto opened = Device::open(global);
  if (!opened.ok()) return opened.take_error();
  Device& device = **opened;
  auto response = device.call("GET", "/v1/accounts/whoami");
  if (!response.ok()) return response.take_error();
  if (response->status != 200) return unexpected_answer(*response, "whoami");
  const Account& a = device.account();
  if (global.json) {
    std::cout << nlohmann::json{{"uuid", a.uuid}, {"number", a.number}, {"deviceId", a.device_id}, {"server", a.server}}.dump()
              << std::endl;
  } else {
    std::cout << a.number << " (account " << a.uuid << ", device " << a.device_id << ") on " << a.server << std::endl;
  }
  return static_cast<int>(kExitOk);
}

}  // namespace latchkey::client
