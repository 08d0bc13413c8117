// Queued end-to-end encrypted envelopes, kept until the destination device acknowledges them. The content is
// ciphertext the server cannot read; it is stored and handed back byte for byte.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/error.h"

namespace latchkey {

struct Envelope {
  std::int64_t id = 0;                  // assigned by the store: increasing, never reused
  std::string destination_uuid;
  std::uint32_t destination_device = 0;
  int destination_registration_id = 0;  // checked against the device when stored
  std::string source_uuid;
  std::uint32_t source_device = 0;
  int type = 0;                         // Signal envelope type (1 ciphertext, 3 prekey bundle, 8 plaintext)
  EpochMillis timestamp = 0;            // the sender's
  EpochMillis server_timestamp = 0;
  std::string content;                  // opaque bytes
};

// Thread-safe. Ordering: ids grow in commit order, so a reader that has seen id N has seen every envelope
// with a smaller id (the relay's drain relies on it).
class MessageStore {
 public:
  virtual ~MessageStore() = default;

  using InsertDone = std::function<void(Result<std::vector<Envelope>>)>;

  // Stores every envelope or none, without blocking. `done` gets them back with their ids once durable, on a
  // storage thread: it must be quick (hand work elsewhere). Errors: kNotFound (a destination device does not
  // exist), kStaleDevices (its registration id differs; details.staleDevices), kRateLimited (its queue holds
  // `max_queued` envelopes already), kUnavailable/kInternal (storage).
  virtual void insert(std::vector<Envelope> envelopes, std::size_t max_queued, InsertDone done) = 0;

  // Up to `limit` queued envelopes of the device with id > `after_id`, oldest first.
  virtual Result<std::vector<Envelope>> fetch(const std::string& uuid, std::uint32_t device_id,
                                              std::int64_t after_id, int limit) = 0;

  // Deletes the listed envelopes of this device (ids of other devices are ignored), without blocking;
  // failures are logged (the envelopes are then delivered again, which clients tolerate). The deletion does
  // not wait for a disk sync of its own: it reaches the disk with the next stored envelope's, so a power loss
  // just after may bring the envelopes back (delivered again).
  virtual void acknowledge(const std::string& uuid, std::uint32_t device_id, std::vector<std::int64_t> ids) = 0;

  // Blocks until every acknowledge() submitted before the call has been applied, so that a device reconnecting
  // right after acknowledging on an earlier socket is not handed those envelopes again.
  virtual Status settle() = 0;

  // As acknowledge(), blocking until durable; answers how many were deleted.
  virtual Result<int> acknowledge_sync(const std::string& uuid, std::uint32_t device_id,
                                       const std::vector<std::int64_t>& ids) = 0;

  // Envelopes queued for the device.
  virtual Result<std::size_t> count(const std::string& uuid, std::uint32_t device_id) = 0;
};

}  // namespace latchkey
