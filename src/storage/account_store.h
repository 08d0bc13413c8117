// Durable accounts and their devices. The entity is plain data; registration rules live in accounts/.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/error.h"

namespace latchkey {

struct Device {
  std::uint32_t id = 1;          // 1 is the primary device
  std::string password_hash;     // crypto/secret_hash.h password record (salt and hash); never the password
  int registration_id = 0;       // the client's registration id (1..16383)
  std::string name;              // opaque (encrypted by the client), may be empty
  EpochMillis created_at = 0;
  EpochMillis last_seen_at = 0;
};

struct Account {
  std::string uuid;              // stable across re-registration of the same number
  std::string number;            // E.164
  EpochMillis created_at = 0;
  std::vector<Device> devices;   // ordered by id
  std::string registration_lock_record;  // crypto/secret_hash.h record of the lock token; empty: no lock
  std::string recovery_password_record;  // record of the registration recovery password; empty: none
};

struct LinkedDevice {
  std::string uuid;
  std::uint32_t device_id = 0;
};

struct RegistrationRecord {
  Account account;               // as stored after the call
  bool replaced_existing = false;  // the number had an account whose devices were removed
};

// Thread-safe. Every call may block on storage I/O: call from a worker thread, never an I/O thread.
// Errors other than those listed are kInternal or kUnavailable (storage failure).
class AccountStore {
 public:
  virtual ~AccountStore() = default;

  // In one transaction: if `number` has no account, creates one with uuid `new_uuid` and `primary` as its only
  // device; otherwise keeps the existing uuid and replaces every device (and with them their credentials, keys
  // and queued envelopes) by `primary`, and clears the identity key and unused device link codes; the
  // account's Registration Lock, backup and notices are kept. In the same transaction, appends the registration
  // to the registration log (number, uuid, `now`, `code_provider`: the SMS provider whose code verified it, ""
  // without one; replaced_existing; the account's creation time), which incident response reads to find the
  // registrations made with a compromised provider's codes.
  // Durable when it returns ok.
  virtual Result<RegistrationRecord> create_or_replace(const std::string& number, const std::string& new_uuid,
                                                       const Device& primary, EpochMillis now,
                                                       const std::string& code_provider = "") = 0;

  virtual Result<std::optional<Account>> find_by_uuid(const std::string& uuid) = 0;
  virtual Result<std::optional<Account>> find_by_number(const std::string& number) = 0;

  // One device of an account, for authentication; nullopt if the account or device does not exist.
  virtual Result<std::optional<Device>> find_device(const std::string& uuid, std::uint32_t device_id) = 0;

  // Records that the device was seen; a no-op if it does not exist.
  virtual Status touch_device(const std::string& uuid, std::uint32_t device_id, EpochMillis now) = 0;

  // Sets (non-empty record) or clears (empty) the account's Registration Lock. Re-registration keeps it.
  // kNotFound if there is no such account.
  virtual Status set_registration_lock(const std::string& uuid, const std::string& record) = 0;

  // Sets (non-empty record) or clears (empty) the registration recovery password. kNotFound if no account.
  virtual Status set_recovery_password(const std::string& uuid, const std::string& record) = 0;

  // Stores a device link code (its keyed hash) for the account, valid until `expires_at`; also drops expired
  // codes. kNotFound if there is no such account.
  virtual Status put_link_code(const std::string& uuid, const std::string& code_hash, EpochMillis expires_at) = 0;

  // In one transaction: consumes the unexpired link code `code_hash` and adds `device` to its account with the
  // lowest free id from 2. Errors: kForbidden (no such code, used or expired), kConflict (the account has
  // 1 + max_linked devices already; the code is kept).
  virtual Result<LinkedDevice> link_device(const std::string& code_hash, const Device& device, int max_linked,
                                           EpochMillis now) = 0;

  // Removes a device with its keys and queued envelopes. kNotFound if it does not exist.
  virtual Status remove_device(const std::string& uuid, std::uint32_t device_id) = 0;

  // Deletes the account, its devices and all their data (backup, notices). kNotFound if there is no such account.
  virtual Status delete_account(const std::string& uuid) = 0;
};

}  // namespace latchkey
