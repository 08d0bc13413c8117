#include "client/messages/message_sender.h"

#include <algorithm>
#include <iostream>

#include "client/signal/keys.h"
#include "client/signal/session_crypto.h"
#include "core/encoding.h"

namespace latchkey::client {
namespace {

constexpr int kMaxAttempts = 5;

std::vector<int> int_list(const nlohmann::json& body, const char* name) {
  std::vector<int> out;
  if (body.is_object() && body.contains(name) && body[name].is_array()) {
    for (const auto& v : body[name]) {
      if (v.is_number_integer()) out.push_back(v.get<int>());
    }
  }
  return out;
}

}  // namespace

Result<std::vector<int>> MessageSender::session_devices(const std::string& uuid) {
  auto devices = device_.store().session_devices(uuid);
  if (!devices.ok()) return devices;
  if (uuid == device_.account().uuid) {
    int own = device_.account().device_id;
    devices->erase(std::remove(devices->begin(), devices->end(), own), devices->end());
  }
  return devices;
}

Result<bool> MessageSender::fetch_bundles(const std::string& uuid, const std::string& selector) {
  auto response = device_.call("GET", "/v2/keys/" + escape_path_segment(uuid) + "/" + selector);
  if (!response.ok()) return response.take_error();
  if (response->status == 404) return false;
  if (response->status != 200 || !response->json.is_object() || !response->json.contains("devices") ||
      !response->json["devices"].is_array()) {
    return unexpected_answer(*response, "fetching the keys of " + uuid);
  }
  const auto& identity = response->json.contains("identityKey") ? response->json["identityKey"] : nlohmann::json();
  for (const auto& entry : response->json["devices"]) {
    if (uuid == device_.account().uuid && entry.is_object() && entry.value("deviceId", 0) == device_.account().device_id) {
      continue;
    }
    LK_RETURN_IF_ERROR(process_bundle(device_.protocol(), uuid, identity, entry));
  }
  return true;
}

Result<bool> MessageSender::send_to_account(const std::string& destination, const MessageContent& content,
                                            std::int64_t timestamp) {
  const bool to_self = destination == device_.account().uuid;
  auto devices = session_devices(destination);
  if (!devices.ok()) return devices.take_error();
  if (devices->empty()) {
    auto found = fetch_bundles(destination, "*");
    if (!found.ok()) return found.take_error();
    if (!*found && !to_self) return make_error(ErrorKind::kUsage, "there is no account " + destination + " with keys");
    devices = session_devices(destination);
    if (!devices.ok()) return devices.take_error();
  }
  std::string padded = encode_content(content);
  const std::string path = "/v1/messages/" + escape_path_segment(destination);

  for (int attempt = 0; attempt < kMaxAttempts; ++attempt) {
    nlohmann::json messages = nlohmann::json::array();
    for (int device_id : *devices) {
      auto ciphertext = encrypt_for(device_.protocol(), destination, device_id, padded);
      if (!ciphertext.ok()) return ciphertext.take_error();
      messages.push_back({{"type", ciphertext->type},
                          {"destinationDeviceId", device_id},
                          {"destinationRegistrationId", ciphertext->remote_registration_id},
                          {"content", base64_encode(ciphertext->body)}});
    }
    auto response = device_.call("PUT", path, {{"timestamp", timestamp}, {"messages", messages}});
    if (!response.ok()) return response.take_error();
    const auto& body = response->json;
    switch (response->status) {
      case 200:
        return body.is_object() && body.value("needsSync", false);
      case 404:
        return make_error(ErrorKind::kUsage, "the account " + destination + " does not exist (any more)");
      case 409: {
        for (int extra : int_list(body, "extraDevices")) {
          LK_RETURN_IF_ERROR(device_.store().delete_session(destination, extra));
        }
        for (int missing : int_list(body, "missingDevices")) {
          auto found = fetch_bundles(destination, std::to_string(missing));
          if (!found.ok()) return found.take_error();
        }
        break;
      }
      case 410: {
        for (int stale : int_list(body, "staleDevices")) {
          LK_RETURN_IF_ERROR(device_.store().delete_session(destination, stale));
          auto found = fetch_bundles(destination, std::to_string(stale));
          if (!found.ok()) return found.take_error();
        }
        break;
      }
      default:
        return unexpected_answer(*response, "sending to " + destination);
    }
    devices = session_devices(destination);
    if (!devices.ok()) return devices.take_error();
  }
  return make_error(ErrorKind::kServer, "the device list of " + destination + " kept changing; try again");
}

Status MessageSender::send_text(const std::string& destination, const std::string& text) {
  MessageContent content;
  content.text = text;
  content.sent_at_ms = now_ms();
  auto needs_sync = send_to_account(destination, content, content.sent_at_ms);
  if (!needs_sync.ok()) return needs_sync.take_error();
  if (*needs_sync && destination != device_.account().uuid) {
    MessageContent copy = content;
    copy.sync_destination = destination;
    auto synced = send_to_account(device_.account().uuid, copy, content.sent_at_ms);
    if (!synced.ok()) {
      // The message itself was delivered; only the copy for our other devices is missing.
      if (synced.error().kind == ErrorKind::kUnregistered) return synced.take_error();
      std::cerr << "latchkey: sent, but the copy for your other devices failed: " << synced.error().message
                << std::endl;
    }
  }
  return ok_status();
}

}  // namespace latchkey::client
