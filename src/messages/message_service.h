// Sending end-to-end encrypted envelopes: checks the sender's view of the destination's devices (409/410 in
// the API), stores one envelope per device durably, then hands each to its device's connection if it is
// online here. Plain C++, no HTTP.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "accounts/account_service.h"
#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "limits/rate_limiter.h"
#include "messages/client_presence.h"
#include "messages/device_directory.h"
#include "metrics/metrics.h"
#include "storage/storage.h"

namespace latchkey {

struct OutgoingEnvelope {
  int type = 0;
  std::uint32_t destination_device = 0;
  int destination_registration_id = 0;
  std::string content;  // decoded bytes
};

struct MessageSendRequest {
  std::string destination_uuid;
  EpochMillis timestamp = 0;
  std::vector<OutgoingEnvelope> messages;
};

struct MessageSendResult {
  bool needs_sync = false;  // the sender has other devices that should get a copy
};

// Thread-safe.
class MessageService {
 public:
  MessageService(const MessagesConfig& config, int max_linked_devices, Storage& storage, ClientPresence& presence,
                 Limits& limits, const Clock& clock, MetricsRegistry& metrics);

  using SendDone = std::function<void(Result<MessageSendResult>)>;

  // Validates and stores the envelopes; `done` is called exactly once, either before send() returns (a refusal)
  // or later on a storage thread once every envelope is durable (it must not block). Errors: kMalformedRequest
  // (types, sizes, duplicates), kRateLimited (messages_per_sender, or a full queue), kNotFound (no such
  // account), kMismatchedDevices (details missingDevices/extraDevices), kStaleDevices (details staleDevices).
  // May block on a storage read before returning (the destination's devices, unless cached): call from a
  // worker thread.
  void send(const AuthenticatedDevice& sender, MessageSendRequest request, SendDone done);

  // As send() without ever blocking, for an I/O thread: answers false, leaving `request` and `done` untouched,
  // when the destination's devices are not cached (then call send() from a worker); true once `done` has been
  // called or will be.
  bool send_if_cached(const AuthenticatedDevice& sender, MessageSendRequest& request, SendDone& done);

  // The account's devices changed (re-registered, linked, removed, deleted): drops its cached device list.
  void forget_devices(const std::string& uuid) { directory_.forget(uuid); }

  // Queued envelopes of a device after `after_id`, oldest first (the socket's drain). With after_id 0 (a drain's
  // first page) it first waits for acknowledgements already submitted to be applied.
  Result<std::vector<Envelope>> fetch(const std::string& uuid, std::uint32_t device_id, std::int64_t after_id);

  // Deletes acknowledged envelopes without waiting (at most 1000 ids; callers check).
  void acknowledge(const std::string& uuid, std::uint32_t device_id, std::vector<std::int64_t> ids);

  const MessagesConfig& config() const { return config_; }

 private:
  // Checks that need no storage: sizes, types, duplicates.
  Status check_request(const MessageSendRequest& request) const;
  Status validate(const AuthenticatedDevice& sender, const MessageSendRequest& request, const DeviceList& destination) const;
  // After the checks: the sender's rate limit, then the durable insert.
  void store(const AuthenticatedDevice& sender, MessageSendRequest request, const DeviceList& destination, SendDone done);

  const MessagesConfig& config_;
  const int max_linked_devices_;
  Storage& storage_;
  ClientPresence& presence_;
  Limits& limits_;
  const Clock& clock_;
  DeviceDirectory directory_;
  Counter& sent_;
  Counter& pushed_;
  Counter& acknowledged_;
};

}  // namespace latchkey
