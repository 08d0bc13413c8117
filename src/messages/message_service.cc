#include "messages/message_service.h"

#include <algorithm>
#include <memory>

namespace latchkey {
namespace {

bool known_type(int type) { return type == 1 || type == 3 || type == 8; }

}  // namespace

MessageService::MessageService(const MessagesConfig& config, int max_linked_devices, Storage& storage,
                               ClientPresence& presence, Limits& limits, const Clock& clock, MetricsRegistry& metrics)
    : config_(config),
      max_linked_devices_(max_linked_devices),
      storage_(storage),
      presence_(presence),
      limits_(limits),
      clock_(clock),
      directory_(config, clock),
      sent_(metrics.counter("latchkey_messages_stored_total", "Envelopes stored for delivery")),
      pushed_(metrics.counter("latchkey_messages_pushed_total", "Envelopes handed at once to a connected device")),
      acknowledged_(metrics.counter("latchkey_messages_ack_frames_total", "Acknowledgement batches received")) {}

Status MessageService::validate(const AuthenticatedDevice& sender, const MessageSendRequest& request,
                                const DeviceList& destination) const {
  bool to_self = request.destination_uuid == sender.uuid;
  std::vector<std::uint32_t> missing, extra, stale;
  for (const DirectoryDevice& device : destination) {
    if (to_self && device.id == sender.device.id) continue;
    bool named = std::any_of(request.messages.begin(), request.messages.end(),
                             [&](const OutgoingEnvelope& m) { return m.destination_device == device.id; });
    if (!named) missing.push_back(device.id);
  }
  for (const OutgoingEnvelope& m : request.messages) {
    auto device = std::find_if(destination.begin(), destination.end(),
                               [&](const DirectoryDevice& d) { return d.id == m.destination_device; });
    if (device == destination.end() || (to_self && m.destination_device == sender.device.id)) {
      extra.push_back(m.destination_device);
    } else if (device->registration_id != m.destination_registration_id) {
      stale.push_back(m.destination_device);
    }
  }
  if (!missing.empty() || !extra.empty()) {
    Error error = make_error(ErrorCode::kMismatchedDevices, "the destination devices do not match the account's");
    error.details = {{"missingDevices", missing}, {"extraDevices", extra}};
    return error;
  }
  if (!stale.empty()) {
    Error error = make_error(ErrorCode::kStaleDevices, "some destination devices were replaced");
    error.details = {{"staleDevices", stale}};
    return error;
  }
  return {};
}

Status MessageService::check_request(const MessageSendRequest& request) const {
  if (request.messages.empty()) return make_error(ErrorCode::kMalformedRequest, "messages must not be empty");
  if (request.messages.size() > static_cast<std::size_t>(max_linked_devices_) + 1)
    return make_error(ErrorCode::kMalformedRequest, "messages names more devices than an account can have");
  if (request.timestamp < 0) return make_error(ErrorCode::kMalformedRequest, "timestamp must not be negative");
  for (std::size_t i = 0; i < request.messages.size(); ++i) {
    const OutgoingEnvelope& m = request.messages[i];
    std::string field = "messages[" + std::to_string(i) + "]";
    if (!known_type(m.type)) return make_error(ErrorCode::kMalformedRequest, field + ".type must be 1, 3 or 8");
    if (m.content.empty() || m.content.size() > config_.max_content_bytes)
      return make_error(ErrorCode::kMalformedRequest,
                        field + ".content must decode to 1 to " + std::to_string(config_.max_content_bytes) + " bytes");
    for (std::size_t j = 0; j < i; ++j)
      if (request.messages[j].destination_device == m.destination_device)
        return make_error(ErrorCode::kMalformedRequest, field + ".destinationDeviceId is listed twice");
  }
  return {};
}

void MessageService::send(const AuthenticatedDevice& sender, MessageSendRequest request, SendDone done) {
  Status checked = check_request(request);
  if (!checked.ok()) return done(checked.take_error());
  std::shared_ptr<const DeviceList> devices = directory_.find(request.destination_uuid);
  if (!devices) {
    const DeviceDirectory::Ticket ticket = directory_.ticket(request.destination_uuid);
    Result<std::optional<Account>> destination = storage_.accounts().find_by_uuid(request.destination_uuid);
    if (!destination.ok()) return done(destination.take_error());
    if (!destination->has_value()) return done(make_error(ErrorCode::kNotFound, "no such account"));
    DeviceList list;
    for (const Device& d : (*destination)->devices) list.push_back({d.id, d.registration_id});
    devices = directory_.put(request.destination_uuid, std::move(list), ticket);
  }
  store(sender, std::move(request), *devices, std::move(done));
}

bool MessageService::send_if_cached(const AuthenticatedDevice& sender, MessageSendRequest& request, SendDone& done) {
  std::shared_ptr<const DeviceList> devices = directory_.find(request.destination_uuid);
  if (!devices) return false;
  Status checked = check_request(request);
  if (!checked.ok()) {
    done(checked.take_error());
    return true;
  }
  store(sender, std::move(request), *devices, std::move(done));
  return true;
}

void MessageService::store(const AuthenticatedDevice& sender, MessageSendRequest request, const DeviceList& destination,
                           SendDone done) {
  EpochMillis now = clock_.now_ms();
  Status allowed = limits_.check(Limit::kMessagesPerSender, sender.uuid + "." + std::to_string(sender.device.id), now);
  if (!allowed.ok()) return done(allowed.take_error());
  Status valid = validate(sender, request, destination);
  if (!valid.ok()) return done(valid.take_error());

  std::vector<Envelope> envelopes;
  envelopes.reserve(request.messages.size());
  for (OutgoingEnvelope& m : request.messages) {
    Envelope e;
    e.destination_uuid = request.destination_uuid;
    e.destination_device = m.destination_device;
    e.destination_registration_id = m.destination_registration_id;
    e.source_uuid = sender.uuid;
    e.source_device = sender.device.id;
    e.type = m.type;
    e.timestamp = request.timestamp;
    e.server_timestamp = now;
    e.content = std::move(m.content);
    envelopes.push_back(std::move(e));
  }
  MessageSendResult result;
  result.needs_sync = request.destination_uuid != sender.uuid && sender.account_device_ids.size() > 1;
  storage_.messages().insert(
      std::move(envelopes), config_.max_queued_per_device,
      [this, result, uuid = request.destination_uuid, done = std::move(done)](Result<std::vector<Envelope>> stored) {
        if (!stored.ok()) {
          // Storage knows better than the cache: a vanished or replaced device means the cached list is stale.
          const ErrorCode code = stored.error().code;
          if (code == ErrorCode::kNotFound || code == ErrorCode::kStaleDevices) directory_.forget(uuid);
          done(stored.take_error());
          return;
        }
        sent_.inc(stored->size());
        for (Envelope& e : *stored) {
          if (presence_.notify(std::make_shared<const Envelope>(std::move(e)))) pushed_.inc();
        }
        done(result);
      });
}

Result<std::vector<Envelope>> MessageService::fetch(const std::string& uuid, std::uint32_t device_id,
                                                    std::int64_t after_id) {
  if (after_id == 0) {
    // A fresh drain: first let acknowledgements from the device's earlier sockets land.
    Status settled = storage_.messages().settle();
    if (!settled.ok()) return settled.take_error();
  }
  return storage_.messages().fetch(uuid, device_id, after_id, config_.fetch_batch);
}

void MessageService::acknowledge(const std::string& uuid, std::uint32_t device_id, std::vector<std::int64_t> ids) {
  acknowledged_.inc();
  storage_.messages().acknowledge(uuid, device_id, std::move(ids));
}

}  // namespace latchkey
