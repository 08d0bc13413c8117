// What every command shares: the global options, the opened local store with this device's account, the
// HTTP client for its server and the Signal Protocol context; and the helpers several commands use
// (recipient lookup, key upload, identity-change warnings).
#pragma once

#include <memory>
#include <optional>
#include <string>

#include "client/core/result.h"
#include "client/net/http_client.h"
#include "client/signal/protocol_context.h"
#include "client/store/local_store.h"

namespace latchkey::client {

struct GlobalOptions {
  std::string server;      // --server; empty: the URL saved at registration, else kDefaultServer
  std::string store_path;  // --store
  bool json = false;       // --json: machine-readable output, one JSON object per line
};

inline constexpr const char* kDefaultServer = "http://127.0.0.1:8080";

// One command's view of this device. Single-threaded.
class Device {
 public:
  // Opens the store; kUsage when it holds no account ("register or link first").
  static Result<std::unique_ptr<Device>> open(const GlobalOptions& options);

  LocalStore& store() { return *store_; }
  const Account& account() const { return account_; }
  HttpClient& http() { return *http_; }
  ProtocolContext& protocol() { return *protocol_; }
  Credentials credentials() const { return {account_.username(), account_.password}; }

  // An authenticated request; 401 becomes kUnregistered.
  Result<HttpResponse> call(std::string_view method, std::string_view path, const nlohmann::json& body = nullptr);

 private:
  std::unique_ptr<LocalStore> store_;
  Account account_;
  std::unique_ptr<HttpClient> http_;
  std::unique_ptr<ProtocolContext> protocol_;
};

// The server URL to use: --server, else the saved one, else kDefaultServer.
Result<ServerUrl> choose_server(const GlobalOptions& options, const std::optional<Account>& account);

// A recipient given as +NUMBER (looked up with GET /v1/directory, cached in the store) or as a uuid.
Result<std::string> resolve_recipient(Device& device, const std::string& recipient);

// The best label for a uuid: its number when known, else the uuid.
std::string label_for(Device& device, const std::string& uuid);

// Generates and uploads keys with PUT /v2/keys (a new signed prekey when with_signed_prekey).
Status upload_keys(Device& device, bool with_signed_prekey, int prekey_count);
// Uploads 100 more one-time prekeys when fewer than 20 are left on the server.
Status top_up_prekeys(Device& device);

// Prints a loud warning on stderr for every contact whose identity key changed and was not accepted yet;
// true when there was one (the command then exits with kExitIdentityChanged).
Result<bool> warn_identity_changes(Device& device);

// Reads one line from stdin after printing `prompt` on stderr; kUsage at end of input.
Result<std::string> prompt_line(const std::string& prompt);

// A random device password: 24 random bytes in base64url (32 characters).
std::string new_device_password();

}  // namespace latchkey::client
