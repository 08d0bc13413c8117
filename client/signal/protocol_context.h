// The libsignal-protocol-c context of one device: the crypto provider, and the session, prekey, signed
// prekey and identity stores backed by the LocalStore.
//
// Trust policy: trust on first use. A contact's identity key is remembered the first time it is seen; a
// different key later is accepted (messages keep flowing, as in Signal's default) but recorded as a change
// that every command reports loudly until the user accepts it (`latchkey trust`).
#pragma once

#include <signal_protocol.h>

#include <memory>
#include <set>
#include <string>

#include "client/core/result.h"
#include "client/store/local_store.h"

namespace latchkey::client {

// Single-threaded, like the LocalStore it uses (which must outlive it).
class ProtocolContext {
 public:
  // The identity key pair and registration id come from `account` (this device). kCrypto when libsignal
  // cannot be initialised.
  static Result<std::unique_ptr<ProtocolContext>> create(LocalStore& store, const Account& account);
  // A context without an account: enough to generate keys (before registration).
  static Result<std::unique_ptr<ProtocolContext>> create_without_account(LocalStore& store);
  ~ProtocolContext();
  ProtocolContext(const ProtocolContext&) = delete;
  ProtocolContext& operator=(const ProtocolContext&) = delete;

  signal_context* global() const { return global_; }
  signal_protocol_store_context* stores() const { return stores_; }
  LocalStore& store() { return store_; }
  const Account& account() const { return account_; }
  void set_account(const Account& account) { account_ = account; }

  // Contacts (uuids) whose identity key changed during this process.
  const std::set<std::string>& identity_changes() const { return identity_changes_; }
  // The last local store failure seen inside a libsignal callback (for error messages).
  const std::string& last_store_error() const { return last_store_error_; }

 private:
  ProtocolContext(LocalStore& store, Account account) : store_(store), account_(std::move(account)) {}
  Status init();
  static ProtocolContext& self(void* user_data) { return *static_cast<ProtocolContext*>(user_data); }
  int fail(const Error& e);

  // Store callbacks (the libsignal contract: see signal_protocol.h).
  static int load_session(signal_buffer** record, signal_buffer** user_record, const signal_protocol_address* address,
                          void* user_data);
  static int get_sub_device_sessions(signal_int_list** sessions, const char* name, size_t name_len, void* user_data);
  static int store_session(const signal_protocol_address* address, uint8_t* record, size_t record_len,
                           uint8_t* user_record, size_t user_record_len, void* user_data);
  static int contains_session(const signal_protocol_address* address, void* user_data);
  static int delete_session(const signal_protocol_address* address, void* user_data);
  static int delete_all_sessions(const char* name, size_t name_len, void* user_data);
  static int load_pre_key(signal_buffer** record, uint32_t id, void* user_data);
  static int store_pre_key(uint32_t id, uint8_t* record, size_t record_len, void* user_data);
  static int contains_pre_key(uint32_t id, void* user_data);
  static int remove_pre_key(uint32_t id, void* user_data);
  static int load_signed_pre_key(signal_buffer** record, uint32_t id, void* user_data);
  static int store_signed_pre_key(uint32_t id, uint8_t* record, size_t record_len, void* user_data);
  static int contains_signed_pre_key(uint32_t id, void* user_data);
  static int remove_signed_pre_key(uint32_t id, void* user_data);
  static int get_identity_key_pair(signal_buffer** public_data, signal_buffer** private_data, void* user_data);
  static int get_local_registration_id(void* user_data, uint32_t* registration_id);
  static int save_identity(const signal_protocol_address* address, uint8_t* key_data, size_t key_len,
                           void* user_data);
  static int is_trusted_identity(const signal_protocol_address* address, uint8_t* key_data, size_t key_len,
                                 void* user_data);

  LocalStore& store_;
  Account account_;
  signal_context* global_ = nullptr;
  signal_protocol_store_context* stores_ = nullptr;
  std::set<std::string> identity_changes_;
  std::string last_store_error_;
};

// Milliseconds since the Unix epoch.
std::int64_t now_ms();

}  // namespace latchkey::client
