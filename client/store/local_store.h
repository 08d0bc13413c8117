// The client's local state in one SQLite file, readable by its owner only (mode 0600, parent folder 0700):
// the account and device credentials, the identity key pair, the Signal Protocol stores (sessions, one-time
// and signed prekeys, contacts' identity keys), and a number -> uuid cache from discovery.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "client/core/result.h"

struct sqlite3;

namespace latchkey::client {

// This device's registration. Keys are raw bytes: identity_public is the 33-byte serialized key (0x05 ...),
// identity_private the 32-byte private key.
struct Account {
  std::string server;           // the server URL the device registered with
  std::string uuid;
  std::string number;           // E.164
  int device_id = 0;
  std::string password;
  std::uint32_t registration_id = 0;
  std::string identity_public;
  std::string identity_private;
  std::string master_key;       // 32 bytes when a PIN was set up on this device, else empty

  std::string username() const { return uuid + "." + std::to_string(device_id); }
};

// A contact's identity key as first seen, and whether it has changed since the user last accepted it.
struct IdentityRecord {
  std::string uuid;
  std::string key;                        // 33 bytes, the key currently used
  std::int64_t first_seen_ms = 0;
  std::optional<std::int64_t> changed_ms; // set when the key changed and the change was not accepted yet
};

// Single-threaded: one LocalStore per process, used from one thread. Every method answers kStore when
// SQLite fails; "not found" is an empty optional, never an error.
class LocalStore {
 public:
  // Opens or creates the file. A new file (and a missing parent folder) is created readable by the owner
  // only; an existing file that others may read is tightened to 0600.
  static Result<std::unique_ptr<LocalStore>> open(const std::string& path);
  ~LocalStore();
  LocalStore(const LocalStore&) = delete;
  LocalStore& operator=(const LocalStore&) = delete;

  // ---- account ----
  Result<std::optional<Account>> account();
  Status save_account(const Account& account);
  // Forgets the account and every Signal Protocol record of this device (sessions, prekeys); keeps the
  // contacts' identity keys so that a change is still noticed after a re-registration.
  Status reset_device_state();

  // Small named values (next prekey id, a pending registration).
  Result<std::optional<std::string>> setting(std::string_view name);
  Status set_setting(std::string_view name, std::string_view value);
  Status delete_setting(std::string_view name);

  // ---- sessions (name = account uuid) ----
  Result<std::optional<std::string>> load_session(std::string_view name, int device_id);
  Status store_session(std::string_view name, int device_id, std::string_view record);
  Result<bool> contains_session(std::string_view name, int device_id);
  Status delete_session(std::string_view name, int device_id);
  Status delete_all_sessions(std::string_view name);
  Result<std::vector<int>> session_devices(std::string_view name);

  // ---- one-time prekeys and signed prekeys (serialized libsignal records) ----
  Result<std::optional<std::string>> load_prekey(std::uint32_t id);
  Status store_prekey(std::uint32_t id, std::string_view record);
  Status remove_prekey(std::uint32_t id);
  Result<std::optional<std::string>> load_signed_prekey(std::uint32_t id);
  Status store_signed_prekey(std::uint32_t id, std::string_view record);
  Status remove_signed_prekey(std::uint32_t id);

  // ---- contacts' identity keys (trust on first use) ----
  Result<std::optional<IdentityRecord>> identity(std::string_view uuid);
  // Stores `key` for `uuid`. Returns true when a different key was stored before (the change is then marked
  // until accept_identity), false for a first sighting or the same key.
  Result<bool> save_identity(std::string_view uuid, std::string_view key, std::int64_t now_ms);
  // The user accepted the current key (compared the safety number): clears the change mark.
  Status accept_identity(std::string_view uuid);
  Result<std::vector<IdentityRecord>> changed_identities();

  // ---- discovery cache ----
  Result<std::optional<std::string>> uuid_for_number(std::string_view number);
  Result<std::optional<std::string>> number_for_uuid(std::string_view uuid);
  Status save_contact(std::string_view number, std::string_view uuid);

  // Runs fn inside one transaction; rolls back when it fails.
  template <class F>
  Status transaction(F&& fn) {
    LK_RETURN_IF_ERROR(exec("BEGIN IMMEDIATE"));
    Status s = fn();
    if (!s.ok()) {
      (void)exec("ROLLBACK");
      return s;
    }
    return exec("COMMIT");
  }

  Status exec(const char* sql);

 private:
  explicit LocalStore(sqlite3* db) : db_(db) {}
  Status migrate();

  sqlite3* db_;
};

}  // namespace latchkey::client
