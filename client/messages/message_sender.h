// Sending one message to every device of an account (PUT /v1/messages/{uuid}): sessions are started from
// prekey bundles when missing, the device list is corrected on 409 (missing/extra devices) and stale
// sessions are replaced on 410, then the request is retried. A sender with other devices also sends them a
// sync copy when the server answers needsSync.
#pragma once

#include <string>

#include "client/commands/device.h"
#include "client/core/result.h"
#include "client/messages/content.h"

namespace latchkey::client {

// Uses the Device it is given (which must outlive it). Single-threaded.
class MessageSender {
 public:
  explicit MessageSender(Device& device) : device_(device) {}

  // Sends `text` to `destination` (a uuid) and, when the server says so, a sync copy to this account's
  // other devices. kUsage for an unknown account (404), kUnregistered when this device's credentials stopped
  // working, kServer when the device list would not settle after a few retries.
  Status send_text(const std::string& destination, const std::string& text);

  // One encrypted send of `content` to every device of `destination` (this device excluded when it is our
  // own account). Answers the server's needsSync.
  Result<bool> send_to_account(const std::string& destination, const MessageContent& content,
                               std::int64_t timestamp);

  // GET /v2/keys/{uuid}/{selector} ("*" or a device id) and starts a session with every device in the
  // answer (but this one). Answers false when the server has no such device/account (404).
  Result<bool> fetch_bundles(const std::string& uuid, const std::string& selector);

 private:
  Result<std::vector<int>> session_devices(const std::string& uuid);

  Device& device_;
};

}  // namespace latchkey::client
