#include "client/signal/protocol_context.h"

#include <chrono>

#include "client/signal/crypto_provider.h"
#include "client/signal/signal_types.h"

namespace latchkey::client {
namespace {

std::string_view name_of(const signal_protocol_address* address) {
  return std::string_view(address->name, address->name_len);
}

}  // namespace

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::unique_ptr<ProtocolContext>> ProtocolContext::create(LocalStore& store, const Account& account) {
  std::unique_ptr<ProtocolContext> ctx(new ProtocolContext(store, account));
  LK_RETURN_IF_ERROR(ctx->init());
  return ctx;
}

Result<std::unique_ptr<ProtocolContext>> ProtocolContext::create_without_account(LocalStore& store) {
  return create(store, Account{});
}

ProtocolContext::~ProtocolContext() {
  if (stores_) signal_protocol_store_context_destroy(stores_);
  if (global_) signal_context_destroy(global_);
}

Status ProtocolContext::init() {
  if (signal_context_create(&global_, this) != 0) return make_error(ErrorKind::kCrypto, "cannot create the Signal context");
  signal_crypto_provider provider = openssl_crypto_provider();
  if (signal_context_set_crypto_provider(global_, &provider) != 0) {
    return make_error(ErrorKind::kCrypto, "cannot install the crypto provider");
  }
  if (signal_protocol_store_context_create(&stores_, global_) != 0) {
    return make_error(ErrorKind::kCrypto, "cannot create the Signal store context");
  }
  signal_protocol_session_store sessions{};
  sessions.load_session_func = load_session;
  sessions.get_sub_device_sessions_func = get_sub_device_sessions;
  sessions.store_session_func = store_session;
  sessions.contains_session_func = contains_session;
  sessions.delete_session_func = delete_session;
  sessions.delete_all_sessions_func = delete_all_sessions;
  sessions.user_data = this;
  signal_protocol_pre_key_store prekeys{};
  prekeys.load_pre_key = load_pre_key;
  prekeys.store_pre_key = store_pre_key;
  prekeys.contains_pre_key = contains_pre_key;
  prekeys.remove_pre_key = remove_pre_key;
  prekeys.user_data = this;
  signal_protocol_signed_pre_key_store signed_prekeys{};
  signed_prekeys.load_signed_pre_key = load_signed_pre_key;
  signed_prekeys.store_signed_pre_key = store_signed_pre_key;
  signed_prekeys.contains_signed_pre_key = contains_signed_pre_key;
  signed_prekeys.remove_signed_pre_key = remove_signed_pre_key;
  signed_prekeys.user_data = this;
  signal_protocol_identity_key_store identities{};
  identities.get_identity_key_pair = get_identity_key_pair;
  identities.get_local_registration_id = get_local_registration_id;
  identities.save_identity = save_identity;
  identities.is_trusted_identity = is_trusted_identity;
  identities.user_data = this;
  if (signal_protocol_store_context_set_session_store(stores_, &sessions) != 0 ||
      signal_protocol_store_context_set_pre_key_store(stores_, &prekeys) != 0 ||
      signal_protocol_store_context_set_signed_pre_key_store(stores_, &signed_prekeys) != 0 ||
      signal_protocol_store_context_set_identity_key_store(stores_, &identities) != 0) {
    return make_error(ErrorKind::kCrypto, "cannot install the Signal stores");
  }
  return ok_status();
}

int ProtocolContext::fail(const Error& e) {
  last_store_error_ = e.message;
  return SG_ERR_UNKNOWN;
}

// ---- sessions ----

int ProtocolContext::load_session(signal_buffer** record, signal_buffer** user_record,
                                  const signal_protocol_address* address, void* user_data) {
  auto& ctx = self(user_data);
  auto r = ctx.store_.load_session(name_of(address), address->device_id);
  if (!r.ok()) return ctx.fail(r.error());
  if (!r->has_value()) return 0;
  *record = signal_buffer_create(bytes(**r), (*r)->size());
  *user_record = nullptr;
  return *record ? 1 : SG_ERR_NOMEM;
}

int ProtocolContext::get_sub_device_sessions(signal_int_list** sessions, const char* name, size_t name_len,
                                             void* user_data) {
  auto& ctx = self(user_data);
  auto r = ctx.store_.session_devices(std::string_view(name, name_len));
  if (!r.ok()) return ctx.fail(r.error());
  signal_int_list* list = signal_int_list_alloc();
  if (!list) return SG_ERR_NOMEM;
  for (int id : *r) signal_int_list_push_back(list, id);
  *sessions = list;
  return static_cast<int>(r->size());
}

int ProtocolContext::store_session(const signal_protocol_address* address, uint8_t* record, size_t record_len,
                                   uint8_t*, size_t, void* user_data) {
  auto& ctx = self(user_data);
  auto s = ctx.store_.store_session(name_of(address), address->device_id,
                                    std::string_view(reinterpret_cast<const char*>(record), record_len));
  return s.ok() ? 0 : ctx.fail(s.error());
}

int ProtocolContext::contains_session(const signal_protocol_address* address, void* user_data) {
  auto& ctx = self(user_data);
  auto r = ctx.store_.contains_session(name_of(address), address->device_id);
  if (!r.ok()) return ctx.fail(r.error());
  return *r ? 1 : 0;
}

int ProtocolContext::delete_session(const signal_protocol_address* address, void* user_data) {
  auto& ctx = self(user_data);
  auto s = ctx.store_.delete_session(name_of(address), address->device_id);
  return s.ok() ? 1 : ctx.fail(s.error());
}

int ProtocolContext::delete_all_sessions(const char* name, size_t name_len, void* user_data) {
  auto& ctx = self(user_data);
  auto s = ctx.store_.delete_all_sessions(std::string_view(name, name_len));
  return s.ok() ? 1 : ctx.fail(s.error());
}

// ---- prekeys ----

int ProtocolContext::load_pre_key(signal_buffer** record, uint32_t id, void* user_data) {
  auto& ctx = self(user_data);
  auto r = ctx.store_.load_prekey(id);
  if (!r.ok()) return ctx.fail(r.error());
  if (!r->has_value()) return SG_ERR_INVALID_KEY_ID;
  *record = signal_buffer_create(bytes(**r), (*r)->size());
  return *record ? SG_SUCCESS : SG_ERR_NOMEM;
}

int ProtocolContext::store_pre_key(uint32_t id, uint8_t* record, size_t record_len, void* user_data) {
  auto& ctx = self(user_data);
  auto s = ctx.store_.store_prekey(id, std::string_view(reinterpret_cast<const char*>(record), record_len));
  return s.ok() ? 0 : ctx.fail(s.error());
}

int ProtocolContext::contains_pre_key(uint32_t id, void* user_data) {
  auto& ctx = self(user_data);
  auto r = ctx.store_.load_prekey(id);
  if (!r.ok()) return ctx.fail(r.error());
  return r->has_value() ? 1 : 0;
}

int ProtocolContext::remove_pre_key(uint32_t id, void* user_data) {
  auto& ctx = self(user_data);
  auto s = ctx.store_.remove_prekey(id);
  return s.ok() ? 0 : ctx.fail(s.error());
}

int ProtocolContext::load_signed_pre_key(signal_buffer** record, uint32_t id, void* user_data) {
  auto& ctx = self(user_data);
  auto r = ctx.store_.load_signed_prekey(id);
  if (!r.ok()) return ctx.fail(r.error());
  if (!r->has_value()) return SG_ERR_INVALID_KEY_ID;
  *record = signal_buffer_create(bytes(**r), (*r)->size());
  return *record ? SG_SUCCESS : SG_ERR_NOMEM;
}

int ProtocolContext::store_signed_pre_key(uint32_t id, uint8_t* record, size_t record_len, void* user_data) {
  auto& ctx = self(user_data);
  auto s = ctx.store_.store_signed_prekey(id, std::string_view(reinterpret_cast<const char*>(record), record_len));
  return s.ok() ? 0 : ctx.fail(s.error());
}

int ProtocolContext::contains_signed_pre_key(uint32_t id, void* user_data) {
  auto& ctx = self(user_data);
  auto r = ctx.store_.load_signed_prekey(id);
  if (!r.ok()) return ctx.fail(r.error());
  return r->has_value() ? 1 : 0;
}

int ProtocolContext::remove_signed_pre_key(uint32_t id, void* user_data) {
  auto& ctx = self(user_data);
  auto s = ctx.store_.remove_signed_prekey(id);
  return s.ok() ? 0 : ctx.fail(s.error());
}

// ---- identity ----

int ProtocolContext::get_identity_key_pair(signal_buffer** public_data, signal_buffer** private_data,
                                           void* user_data) {
  auto& ctx = self(user_data);
  if (ctx.account_.identity_public.empty()) return SG_ERR_INVALID_KEY;
  *public_data = signal_buffer_create(bytes(ctx.account_.identity_public), ctx.account_.identity_public.size());
  *private_data = signal_buffer_create(bytes(ctx.account_.identity_private), ctx.account_.identity_private.size());
  return (*public_data && *private_data) ? 0 : SG_ERR_NOMEM;
}

int ProtocolContext::get_local_registration_id(void* user_data, uint32_t* registration_id) {
  *registration_id = self(user_data).account_.registration_id;
  return 0;
}

int ProtocolContext::save_identity(const signal_protocol_address* address, uint8_t* key_data, size_t key_len,
                                   void* user_data) {
  auto& ctx = self(user_data);
  if (!key_data) return 0;  // libsignal asks to forget: we keep the record for change detection
  std::string uuid(name_of(address));
  auto changed = ctx.store_.save_identity(uuid, std::string_view(reinterpret_cast<const char*>(key_data), key_len),
                                          now_ms());
  if (!changed.ok()) return ctx.fail(changed.error());
  if (*changed) ctx.identity_changes_.insert(uuid);
  return 0;
}

int ProtocolContext::is_trusted_identity(const signal_protocol_address* address, uint8_t* key_data, size_t key_len,
                                         void* user_data) {
  // Trust on first use, and keep working after a change (which save_identity records and commands report).
  auto& ctx = self(user_data);
  std::string uuid(name_of(address));
  if (uuid == ctx.account_.uuid) {
    // Our own other devices share our identity key; anything else is not our account.
    return ctx.account_.identity_public == std::string_view(reinterpret_cast<const char*>(key_data), key_len) ? 1 : 0;
  }
  return 1;
}

}  // namespace latchkey::client
