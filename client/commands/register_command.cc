// `latchkey register +NUMBER [--pin PIN]` and `latchkey set-pin PIN`.
#include <sodium.h>

#include <ctime>
#include <iostream>

#include "client/commands/commands.h"
#include "client/core/exit_codes.h"
#include "client/pin/pin_backup.h"
#include "client/provisioning/device_name.h"
#include "client/signal/keys.h"
#include "core/encoding.h"
#include "core/phone_number.h"
#include "crypto/proof_of_work.h"

namespace latchkey::client {
namespace {

// A registration that waits out the takeover delay is kept here so that `register` can finish it later.
constexpr const char* kPendingNumber = "pending.number";
constexpr const char* kPendingSession = "pending.session";
constexpr const char* kPendingPassword = "pending.password";
constexpr const char* kPendingRegistrationId = "pending.registration_id";
constexpr const char* kPendingIdentityPublic = "pending.identity_public";
constexpr const char* kPendingIdentityPrivate = "pending.identity_private";

struct NewDevice {
  std::string session_id;
  std::string password;
  std::uint32_t registration_id = 0;
  IdentityKeyPair identity;
};

std::string session_path(const std::string& id, const char* suffix = "") {
  return "/v1/verification/session/" + escape_path_segment(id) + suffix;
}

Result<nlohmann::json> expect_session(const Result<HttpResponse>& response, const std::string& what) {
  if (!response.ok()) return response.error();
  if (response->status != 200 || !response->json.is_object()) return unexpected_answer(*response, what, false);
  return response->json;
}

// Creates a session, answers the proof of work, has a code sent and asks the user for it.
Result<std::string> verify_number(HttpClient& http, const std::string& number) {
  auto session = expect_session(http.request("POST", "/v1/verification/session", {{"number", number}}, std::nullopt),
                                "starting verification");
  if (!session.ok()) return session.take_error();
  std::string id = (*session).value("id", "");
  bool gate = false;
  if ((*session).contains("requestedInformation") && (*session)["requestedInformation"].is_array()) {
    for (const auto& item : (*session)["requestedInformation"]) gate = gate || item == "proofOfWork";
  }
  if (gate) {
    const auto& pow = (*session)["proofOfWork"];
    auto challenge = base64url_decode(pow.value("challenge", ""));
    int bits = pow.value("bits", 0);
    if (!challenge) return make_error(ErrorKind::kServer, "the server sent a malformed proof-of-work challenge");
    std::cerr << "Answering the server's proof-of-work challenge (" << bits << " bits)..." << std::endl;
    auto nonce = solve_proof_of_work(*challenge, bits);
    if (!nonce) return make_error(ErrorKind::kServer, "no proof-of-work nonce found");
    auto answered = expect_session(
        http.request("PATCH", session_path(id), {{"proofOfWork", {{"nonce", *nonce}}}}, std::nullopt),
        "answering the proof of work");
    if (!answered.ok()) return answered.take_error();
  }
  auto sent = expect_session(http.request("POST", session_path(id, "/code"), {{"transport", "sms"}}, std::nullopt),
                             "requesting a verification code");
  if (!sent.ok()) return sent.take_error();
  for (int attempt = 0; attempt < 5; ++attempt) {
    auto code = prompt_line("Enter the 6-digit code sent by SMS to " + number + ": ");
    if (!code.ok()) return code.take_error();
    auto checked = expect_session(http.request("PUT", session_path(id, "/code"), {{"code", *code}}, std::nullopt),
                                  "checking the code");
    if (!checked.ok()) {
      if (checked.error().code == "malformed_request") {
        std::cerr << "A code has exactly 6 digits." << std::endl;
        continue;
      }
      return checked.take_error();
    }
    if ((*checked).value("verified", false)) return id;
    std::cerr << "That code is not right." << std::endl;
  }
  return make_error(ErrorKind::kUsage, "too many wrong codes; run register again for a new one");
}

Status save_pending(LocalStore& store, const std::string& number, const NewDevice& d) {
  return store.transaction([&]() -> Status {
    LK_RETURN_IF_ERROR(store.set_setting(kPendingNumber, number));
    LK_RETURN_IF_ERROR(store.set_setting(kPendingSession, d.session_id));
    LK_RETURN_IF_ERROR(store.set_setting(kPendingPassword, d.password));
    LK_RETURN_IF_ERROR(store.set_setting(kPendingRegistrationId, std::to_string(d.registration_id)));
    LK_RETURN_IF_ERROR(store.set_setting(kPendingIdentityPublic, d.identity.public_key));
    LK_RETURN_IF_ERROR(store.set_setting(kPendingIdentityPrivate, d.identity.private_key));
    return ok_status();
  });
}

Result<std::optional<NewDevice>> load_pending(LocalStore& store, const std::string& number) {
  auto pending_number = store.setting(kPendingNumber);
  if (!pending_number.ok()) return pending_number.take_error();
  if (!pending_number->has_value() || **pending_number != number) return std::optional<NewDevice>();
  NewDevice d;
  auto get = [&](const char* name, std::string& out) -> Status {
    auto v = store.setting(name);
    if (!v.ok()) return v.take_error();
    out = v->value_or("");
    return ok_status();
  };
  std::string registration_id;
  LK_RETURN_IF_ERROR(get(kPendingSession, d.session_id));
  LK_RETURN_IF_ERROR(get(kPendingPassword, d.password));
  LK_RETURN_IF_ERROR(get(kPendingRegistrationId, registration_id));
  LK_RETURN_IF_ERROR(get(kPendingIdentityPublic, d.identity.public_key));
  LK_RETURN_IF_ERROR(get(kPendingIdentityPrivate, d.identity.private_key));
  d.registration_id = static_cast<std::uint32_t>(std::strtoul(registration_id.c_str(), nullptr, 10));
  return std::optional<NewDevice>(std::move(d));
}

Status clear_pending(LocalStore& store) {
  for (const char* name : {kPendingNumber, kPendingSession, kPendingPassword, kPendingRegistrationId,
                           kPendingIdentityPublic, kPendingIdentityPrivate}) {
    LK_RETURN_IF_ERROR(store.delete_setting(name));
  }
  return ok_status();
}

// Restores the master key from the PIN backup with the 423's backup credentials. Asks for the PIN when none
// was given; a wrong PIN typed interactively may be retried while the server allows.
// On success `pin` holds the PIN that matched.
Result<std::string> restore_master_key(HttpClient& http, const nlohmann::json& locked, std::optional<std::string>& pin) {
  const auto credentials_json = locked.value("backupCredentials", nlohmann::json::object());
  Credentials backup{credentials_json.value("username", ""), credentials_json.value("password", "")};
  std::string uuid = uuid_from_backup_username(backup.username);
  if (uuid.empty() || backup.password.empty()) {
    return make_error(ErrorKind::kServer, "the server's 423 answer has no usable backup credentials");
  }
  const bool interactive = !pin.has_value();
  for (;;) {
    if (!pin) {
      auto typed = prompt_line("This number is protected by Registration Lock. Enter its PIN: ");
      if (!typed.ok()) return typed.take_error();
      pin = *typed;
    }
    LK_RETURN_IF_ERROR(check_pin(*pin));
    std::cerr << "Checking the PIN..." << std::endl;
    auto stretched = stretch_pin(*pin, pin_salt(uuid));
    if (!stretched.ok()) return stretched.take_error();
    auto response = http.request("POST", "/v1/backup/restore", {{"accessKey", base64_encode(stretched->access_key)}},
                                 backup);
    if (!response.ok()) return response.take_error();
    if (response->status == 200) {
      auto data = base64_decode(response->json.value("data", ""));
      if (!data) return make_error(ErrorKind::kServer, "the server sent a malformed backup");
      return decrypt_master_key(*stretched, *data);
    }
    if (response->status == 403 && response->error_code() == "pin_mismatch") {
      int left = response->json.value("triesRemaining", 0);
      std::cerr << "Wrong PIN. Tries left before the backup is erased for good: " << left << std::endl;
      if (interactive && left > 0) {
        pin.reset();
        continue;
      }
      Error e = make_error(ErrorKind::kCrypto, "wrong PIN (" + std::to_string(left) + " tries left)");
      e.code = "pin_mismatch";
      return e;
    }
    if (response->status == 404) {
      long long remaining = locked.value("timeRemaining", 0LL);
      return make_error(ErrorKind::kUsage,
                        "this number is locked and has no PIN backup to restore; the lock lapses in " +
                            std::to_string(remaining / 3600000) + " h unless the owner's devices are used");
    }
    return unexpected_answer(*response, "restoring the PIN backup", false);
  }
}

// Stores the backup of `master_key` under `pin` and turns Registration Lock on.
Status set_up_pin(Device& device, const std::string& pin, const std::string& master_key) {
  std::cerr << "Setting up the PIN (backup and Registration Lock)..." << std::endl;
  auto stretched = stretch_pin(pin, pin_salt(device.account().uuid));
  if (!stretched.ok()) return stretched.take_error();
  std::string data = base64_encode(encrypt_master_key(*stretched, master_key));
  auto put = device.call("PUT", "/v1/backup", {{"accessKey", base64_encode(stretched->access_key)}, {"data", data}});
  if (!put.ok()) return put.take_error();
  if (put->status != 204 && put->status != 200) return unexpected_answer(*put, "storing the PIN backup");
  auto expose = device.call("POST", "/v1/backup/expose", {{"data", data}});
  if (!expose.ok()) return expose.take_error();
  if (expose->status != 204 && expose->status != 200) return unexpected_answer(*expose, "exposing the PIN backup");
  auto lock = device.call("PUT", "/v1/accounts/registration_lock",
                          {{"registrationLock", registration_lock_token(master_key)}});
  if (!lock.ok()) return lock.take_error();
  if (lock->status != 204 && lock->status != 200) return unexpected_answer(*lock, "turning Registration Lock on");
  Account account = device.account();
  account.master_key = master_key;
  return device.store().save_account(account);
}

std::string random_master_key() {
  std::string key(kMasterKeyBytes, '\0');
  randombytes_buf(key.data(), key.size());
  return key;
}

std::string format_time(std::int64_t ms) {
  std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  localtime_r(&seconds, &tm);
  char buffer[40];
  std::strftime(buffer, sizeof(buffer), "%Y-%m-%d %H:%M:%S %Z", &tm);
  return buffer;
}

}  // namespace

Result<int> run_register(const GlobalOptions& global, const RegisterOptions& options) {
  auto parsed = parse_phone_number(options.number);
  if (!parsed.ok()) return make_error(ErrorKind::kUsage, options.number + " is not a valid international phone number");
  const std::string number = parsed->e164;
  if (options.pin) LK_RETURN_IF_ERROR(check_pin(*options.pin));

  auto store_result = LocalStore::open(global.store_path);
  if (!store_result.ok()) return store_result.take_error();
  LocalStore& store = **store_result;
  auto existing = store.account();
  if (!existing.ok()) return existing.take_error();
  if (existing->has_value() && (*existing)->number != number && !options.force) {
    return make_error(ErrorKind::kUsage, "this store already holds the account of " + (*existing)->number +
                                             "; use another --store, or --force to replace it");
  }
  auto server = choose_server(global, *existing);
  if (!server.ok()) return server.take_error();
  HttpClient http(*server);
  auto keygen = ProtocolContext::create_without_account(store);
  if (!keygen.ok()) return keygen.take_error();

  auto pending = load_pending(store, number);
  if (!pending.ok()) return pending.take_error();
  NewDevice d;
  if (pending->has_value()) {
    d = std::move(**pending);
    std::cerr << "Finishing the registration that was waiting for the takeover delay..." << std::endl;
  } else {
    auto session = verify_number(http, number);
    if (!session.ok()) return session.take_error();
    d.session_id = *session;
    d.password = new_device_password();
    auto registration_id = generate_registration_id(**keygen);
    if (!registration_id.ok()) return registration_id.take_error();
    d.registration_id = *registration_id;
    auto identity = generate_identity_key_pair(**keygen);
    if (!identity.ok()) return identity.take_error();
    d.identity = std::move(*identity);
  }

  nlohmann::json attributes = {{"registrationId", d.registration_id}};
  if (!options.name.empty()) attributes["name"] = encrypt_device_name(d.identity.private_key, options.name);
  std::optional<std::string> master_key;
  std::optional<std::string> pin = options.pin;
  nlohmann::json account_json;
  for (int attempt = 0;; ++attempt) {
    auto response = http.request("POST", "/v1/registration", {{"sessionId", d.session_id}, {"accountAttributes", attributes}},
                                 Credentials{number, d.password});
    if (!response.ok()) return response.take_error();
    if (response->status == 200) {
      account_json = response->json;
      break;
    }
    if (response->status == 202) {
      LK_RETURN_IF_ERROR(save_pending(store, number, d));
      std::int64_t not_before = response->json.value("notBefore", std::int64_t{0});
      Error e = make_error(ErrorKind::kPending,
                           number + " is in use by devices that were active recently. To protect its owner, the "
                                    "registration waits until " + format_time(not_before) +
                               "; the owner's devices can refuse it meanwhile. Run this same command again after "
                               "that time to finish.");
      return e;
    }
    if (response->status == 423 && attempt == 0) {
      auto restored = restore_master_key(http, response->json, pin);
      if (!restored.ok()) return restored.take_error();
      master_key = *restored;
      attributes["registrationLock"] = registration_lock_token(*master_key);
      continue;
    }
    if (pending->has_value() && (response->error_code() == "session_invalid" ||
                                 response->error_code() == "takeover_denied" ||
                                 response->error_code() == "session_already_used")) {
      (void)clear_pending(store);
      Error e = unexpected_answer(*response, "finishing the pending registration", false);
      e.message += "; run register again to start over";
      return e;
    }
    return unexpected_answer(*response, "registering " + number, false);
  }

  if (!account_json.is_object() || !account_json.contains("uuid") || !account_json["uuid"].is_string()) {
    return make_error(ErrorKind::kServer, "the registration answer has no uuid");
  }
  Account account;
  account.server = server->text;
  account.uuid = account_json["uuid"].get<std::string>();
  account.number = account_json.value("number", number);
  account.device_id = account_json.value("deviceId", 1);
  account.password = d.password;
  account.registration_id = d.registration_id;
  account.identity_public = d.identity.public_key;
  account.identity_private = d.identity.private_key;
  LK_RETURN_IF_ERROR(store.reset_device_state());
  LK_RETURN_IF_ERROR(store.save_account(account));
  LK_RETURN_IF_ERROR(clear_pending(store));
  store_result->reset();

  auto device = Device::open(global);
  if (!device.ok()) return device.take_error();
  LK_RETURN_IF_ERROR(upload_keys(**device, true, 100));
  if (pin) {
    // A new PIN, or the one that unlocked the number: (re)store the backup and keep Registration Lock on.
    LK_RETURN_IF_ERROR(set_up_pin(**device, *pin, master_key ? *master_key : random_master_key()));
  }
  if (global.json) {
    std::cout << nlohmann::json{{"uuid", account.uuid}, {"number", account.number}, {"deviceId", account.device_id}}.dump()
              << std::endl;
  } else {
    std::cout << "Registered " << account.number << " (account " << account.uuid << ", device " << account.device_id
              << ")." << std::endl;
  }
  return static_cast<int>(kExitOk);
}

Result<int> run_set_pin(const GlobalOptions& global, const std::string& pin) {
  LK_RETURN_IF_ERROR(check_pin(pin));
  auto device = Device::open(global);
  if (!device.ok()) return device.take_error();
  if ((*device)->account().device_id != 1) {
    return make_error(ErrorKind::kUsage, "only the primary device (device 1) sets the PIN");
  }
  std::string master = (*device)->account().master_key.size() == kMasterKeyBytes ? (*device)->account().master_key
                                                                                 : random_master_key();
  LK_RETURN_IF_ERROR(set_up_pin(**device, pin, master));
  if (global.json) {
    std::cout << nlohmann::json{{"registrationLock", true}}.dump() << std::endl;
  } else {
    std::cout << "PIN set: Registration Lock is on." << std::endl;
  }
  return static_cast<int>(kExitOk);
}

}  // namespace latchkey::client
