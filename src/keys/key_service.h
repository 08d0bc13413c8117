// Device keys for end-to-end sessions: uploads (with the signed prekey's signature checked), the prekey count,
// bundle lookups (each consuming a one-time prekey) and number discovery. Plain C++, no HTTP.
#pragma once

#include <optional>
#include <string>

#include "core/clock.h"
#include "core/config.h"
#include "core/error.h"
#include "limits/rate_limiter.h"
#include "storage/storage.h"

namespace latchkey {

// Thread-safe; every call may block on storage.
class KeyService {
 public:
  KeyService(const KeysConfig& config, Storage& storage, Limits& limits, const Clock& clock);

  // Validates and stores an upload for the device: public keys 33 bytes starting 0x05, the signed prekey's
  // signature verified against identity_key. Only device 1 may set or change the identity key.
  // Errors: kMalformedRequest naming the field, kConflict (identity), kRateLimited (keys_upload_per_device).
  Status upload(const std::string& uuid, std::uint32_t device_id, KeyUpload upload);

  Result<std::size_t> prekey_count(const std::string& uuid, std::uint32_t device_id);

  // Bundles of `target_uuid`'s device (or every device when nullopt), for `requester_uuid`. kNotFound when
  // there is nothing to answer; kRateLimited (prekey_lookup_per_requester) when looking up another account.
  Result<AccountBundles> bundles(const std::string& requester_uuid, const std::string& target_uuid,
                                 std::optional<std::uint32_t> device_id);

  // The uuid registered to `number` (E.164 already normalised). kNotFound if none; kRateLimited by
  // directory_per_requester and directory_per_target.
  Result<std::string> discover(const std::string& requester_uuid, const std::string& number);

 private:
  const KeysConfig& config_;
  Storage& storage_;
  Limits& limits_;
  const Clock& clock_;
};

}  // namespace latchkey
