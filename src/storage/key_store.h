// Public keys of devices, for establishing end-to-end sessions (the Signal Protocol's X3DH). The server
// stores only public keys; validation (sizes, the signed prekey's signature) happens in keys/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"

namespace latchkey {

struct PreKey {
  std::uint32_t key_id = 0;
  std::string public_key;  // 33 bytes: 0x05 and the Curve25519 key
};

struct SignedPreKey {
  std::uint32_t key_id = 0;
  std::string public_key;  // 33 bytes
  std::string signature;   // 64 bytes: XEdDSA by the account's identity key over public_key
};

// What one PUT /v2/keys changes.
struct KeyUpload {
  std::string identity_key;                   // 33 bytes, required
  bool may_set_identity = false;              // the primary may set or change it; others must match it
  std::optional<SignedPreKey> signed_prekey;  // replaces the device's one when present
  std::vector<PreKey> prekeys;                // added; an existing key id is replaced
};

// One device's bundle, as handed to someone starting a session with it.
struct DeviceBundle {
  std::uint32_t device_id = 0;
  int registration_id = 0;
  SignedPreKey signed_prekey;
  std::optional<PreKey> prekey;  // taken (deleted) from the device's pool; nullopt when the pool was empty
};

struct AccountBundles {
  std::string identity_key;
  std::vector<DeviceBundle> devices;  // ordered by device id; only devices with a signed prekey
};

// Thread-safe; every call may block on storage I/O. Keys belong to devices: removing a device (or replacing it
// by re-registration) removes its keys, and re-registration clears the account's identity key.
class KeyStore {
 public:
  virtual ~KeyStore() = default;

  // Applies `upload` for the device in one transaction. When the upload changes the identity key (primary
  // only), every signed prekey and prekey of the account (the uploading device's too) is removed first: they
  // were made for the old identity; the upload's own keys are then stored.
  // Errors: kNotFound (no such device), kConflict (a non-primary upload whose identity key is not the stored
  // one, or none is stored yet), kMalformedRequest (the pool would hold more than `max_stored` prekeys;
  // nothing is changed).
  virtual Status store(const std::string& uuid, std::uint32_t device_id, const KeyUpload& upload,
                       std::size_t max_stored) = 0;

  // One-time prekeys the device has left (0 for an unknown device).
  virtual Result<std::size_t> count_prekeys(const std::string& uuid, std::uint32_t device_id) = 0;

  // Bundles of one device (`device_id`) or of every device (nullopt), each taking one prekey. Durable when it
  // returns. An unknown account, device, or an account without an identity key answers an empty `devices`.
  virtual Result<AccountBundles> take_bundles(const std::string& uuid, std::optional<std::uint32_t> device_id) = 0;
};

}  // namespace latchkey
