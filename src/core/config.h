// The whole configuration as one struct tree. Every field carries its default beside it; load_config reads a
// TOML file over these defaults and validate_config reports every problem by its key path. The documented
// example is config/latchkey.dev.toml and the reference is docs/configuration.md.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/duration.h"
#include "core/error.h"

namespace latchkey {

using namespace std::chrono_literals;

struct ServerConfig {
  std::string listen = "127.0.0.1:8080";  // host:port; IPv6 as [::1]:8080
  int io_threads = 2;                      // threads running sockets and parsing; never block
  int worker_threads = 8;                  // threads running storage-bound request handlers
  int outbound_threads = 32;               // threads running handlers that call SMS providers
  Duration read_timeout = 15s;             // deadline for reading one whole request
  Duration idle_timeout = 60s;             // keep-alive connection closed after this long without a request
  std::size_t max_body_bytes = 64 * 1024;  // larger request bodies are answered 413
  std::size_t max_header_bytes = 8 * 1024; // larger request headers close the connection with 431
  std::size_t max_connections = 10000;     // further connections are accepted and closed at once
  Duration shutdown_grace = 10s;           // on SIGTERM, how long in-flight requests may take to finish
  std::size_t websocket_max_frame_bytes = 65536;  // larger frames from a client close its socket with 1009
  Duration websocket_ping_interval = 30s;         // an idle socket is pinged this often and closed if silent
  std::size_t websocket_max_queued_frames = 10000;  // frames waiting for a slow reader; beyond, closed with 1013
  std::string tls_certificate;             // PEM chain; TLS is on when this and tls_private_key are set
  std::string tls_private_key;             // PEM key
  std::string client_ip_header;            // e.g. "X-Forwarded-For" behind a trusted proxy; empty: peer address
  std::string data_dir = "var";            // generated state (secret key); --data-dir also moves every state file here
};

struct StorageConfig {
  std::string backend = "sqlite";                 // "sqlite" ("postgres" follows in a later issue)
  std::string sqlite_path = "var/latchkey.db";    // relative to the working directory
  std::string sqlite_synchronous = "full";        // "full" (acknowledged writes survive power loss) or "normal"
  int sqlite_busy_timeout_ms = 5000;              // wait this long for a lock before failing
  int write_batch_max = 256;                      // writes committed together in one transaction at most
  int read_connections = 16;                      // read-only connections kept open at most
  int checkpoint_pages = 4000;                    // WAL pages that start a background checkpoint
  int read_cache_kib = 256;                       // page cache of each read-only connection
  int write_cache_kib = 65536;                    // page cache of the writer's connection
};

struct VerificationConfig {
  int proof_of_work_bits = 16;                   // leading zero bits required; 0 disables the gate
  Duration session_ttl = 30min;                  // a session (and its verified state) lives this long
  Duration code_ttl = 10min;                     // a sent code expires this long after sending
  int max_code_attempts = 5;                     // wrong guesses before a code is burned
  std::vector<Duration> sms_delays = {1min, 2min, 5min, 10min};  // wait after the 1st, 2nd, ... SMS
  std::vector<Duration> call_delays = {1min, 5min, 10min};       // wait after the 1st, 2nd, ... call
  std::vector<std::string> allowed_country_codes;  // calling codes like "33"; empty allows every country
  std::string code_hash_key;  // 64 hex chars keying the code hash; empty: generated in data_dir/secret.key
};

struct AccountsConfig {
  std::size_t min_password_length = 16;  // device passwords shorter than this are refused
  std::size_t max_password_length = 512;
  std::size_t max_name_bytes = 256;      // the opaque encrypted device name
  Duration registration_lock_window = std::chrono::days(7);  // a lock binds while a device was seen this recently
  Duration backup_credentials_ttl = std::chrono::days(1);    // lifetime of the credentials a 423 hands out
  Duration takeover_delay = std::chrono::hours(24);          // wait before an SMS code alone takes over an active account; 0 disables
  Duration takeover_seen_window = std::chrono::days(7);      // an account is active if a device was seen this recently
  std::size_t storage_max_value_bytes = 16384;     // encrypted storage: largest item value
  std::size_t storage_max_manifest_bytes = 65536;  // encrypted storage: largest manifest value
  std::size_t storage_max_items_per_request = 256; // encrypted storage: keys or items in one request
  std::size_t storage_max_items = 10000;           // encrypted storage: items one account may hold
  Duration credential_cache_ttl = 10s;             // stored credentials are trusted from memory this long
  std::size_t credential_cache_entries = 100000;   // accounts whose credentials are cached
};

// One token bucket: `burst` tokens at most, one token added back every `refill`.
struct BucketConfig {
  int burst = 1;
  Duration refill = 1s;
};

struct SmsPumpingConfig {
  bool enabled = true;
  Duration window = 1h;             // sent and verified counts are kept over this sliding window
  int min_sent = 100;               // the breaker never trips before this many sends in the window
  double min_verified_ratio = 0.1;  // trips when verified/sent falls below this
  Duration pause = 15min;           // sends to the prefix pause this long once tripped
};

struct LimitsConfig {
  BucketConfig session_create_per_number{10, 6min};
  BucketConfig session_create_per_ip{100, 1s};
  BucketConfig code_send_per_number{6, 10min};
  BucketConfig code_send_per_ip{100, 1s};
  BucketConfig code_send_per_prefix{2000, 10ms};
  BucketConfig code_check_per_number{20, 30s};
  BucketConfig registration_per_number{10, 6min};
  BucketConfig registration_lock_per_number{10, 144min};  // failed Registration Lock attempts: 10 a day
  BucketConfig keys_upload_per_device{20, 3min};          // PUT /v2/keys by one device
  BucketConfig prekey_lookup_per_requester{100, 36s};     // bundles of other accounts fetched by one account
  BucketConfig directory_per_requester{20, 3min};         // number lookups by one account: 20 then one per 3 min
  BucketConfig directory_per_target{50, 30min};           // lookups of one number, by anyone
  BucketConfig device_link_per_ip{10, 6min};              // PUT /v1/devices/link from one address
  BucketConfig provisioning_per_account{10, 1min};        // provisioning messages sent by one account
  BucketConfig messages_per_sender{1000, 10ms};           // message sends by one device (100/s sustained)
  std::size_t max_tracked_keys = 1'000'000;  // buckets kept in memory per limit at most
  SmsPumpingConfig sms_pumping;
};

struct SmsProviderConfig {
  std::string name;                  // unique; used by sms.routing and in metrics and the outbox
  std::string kind;                  // "outbox" or "twilio-messaging"
  bool enabled = true;               // a disabled provider is skipped by routing
  std::string path;                  // outbox: file to append JSON lines to
  std::string account_sid;           // twilio-messaging: AC...
  std::string auth_token;            // twilio-messaging
  std::string from;                  // twilio-messaging: E.164 sender (or use messaging_service_sid)
  std::string messaging_service_sid; // twilio-messaging: MG..., alternative to from
  std::string api_base = "https://api.twilio.com";
  Duration timeout = 5s;             // whole call, connect included
};

struct SmsRoutingConfig {
  std::vector<std::string> default_route;                       // provider names, tried in order
  std::map<std::string, std::vector<std::string>> by_country;   // calling code -> provider names
};

struct SmsConfig {
  std::vector<SmsProviderConfig> providers;
  SmsRoutingConfig routing;
};

struct KeysConfig {
  std::size_t max_prekeys_per_upload = 100;  // one-time prekeys in one PUT /v2/keys
  std::size_t max_stored_prekeys = 1000;     // one-time prekeys one device may hold
};

struct DevicesConfig {
  int max_linked_devices = 5;                     // besides the primary (device 1)
  Duration link_code_ttl = 10min;                 // lifetime of a code from POST /v1/devices/provisioning/code
  Duration provisioning_socket_ttl = 10min;       // a provisioning socket is closed after this long
  std::size_t max_provisioning_bytes = 16384;     // decoded provisioning message body
};

struct MessagesConfig {
  std::size_t max_content_bytes = 49152;       // decoded content of one envelope
  std::size_t max_queued_per_device = 10000;   // envelopes waiting for one device; further sends answer 429
  int fetch_batch = 200;                       // queued envelopes read from storage at once when draining
  Duration device_cache_ttl = 10s;             // how long the relay trusts its cached device list of an account
  std::size_t device_cache_entries = 100000;   // accounts whose device lists the relay caches
};

// Staff console sign-in (WebAuthn only) and staff sessions.
struct StaffConfig {
  std::string rp_id = "localhost";                  // WebAuthn relying party id: the console's host name
  std::string rp_name = "Latchkey";                 // shown by the authenticator
  std::vector<std::string> origins = {"http://localhost:8080"};  // exact origins the console is served from
  bool require_user_verification = true;            // assertions without the UV flag are refused
  Duration challenge_ttl = 2min;                    // a sign-in or enrollment challenge is single use and lives this long
  Duration session_ttl = 30min;                     // a staff session ends this long after sign-in
  Duration session_idle_timeout = 10min;            // or after this long without a request
  Duration invite_ttl = 30min;                      // an enrollment link is single use and lives this long
  bool cookie_secure = true;                        // Secure cookie attribute (leave on; localhost is exempt in browsers)
  BucketConfig lookups_per_staff{30, 1min};         // account lookups by one staff member
  BucketConfig sign_in_per_ip{20, 30s};             // sign-in attempts from one address
};

// The append-only, hash-chained audit log and its signed checkpoints.
struct AuditConfig {
  std::string signing_key_file = "var/audit-signing.key";  // Ed25519 seed (hex), created 0600 on first start; keep it outside the database
  std::string checkpoint_file = "var/audit-checkpoints.jsonl";  // signed checkpoints appended here, one JSON per line
  Duration checkpoint_interval = 1min;              // a checkpoint is written this often when entries were added
};

// Anomaly alert rules. Each rule compares a count over its window to its threshold.
struct AlertsConfig {
  Duration evaluation_interval = 30s;               // how often rules are evaluated
  Duration window = 1h;                              // sliding window the counts cover
  int staff_lookups_threshold = 20;                  // lookups by one staff member in the window
  int staff_lookups_without_case_threshold = 3;      // lookups without a support case reference in the window
  int reregistrations_threshold = 50;                // re-registrations of established accounts in the window
  Duration established_account_age = std::chrono::days(30);  // an account this old is established
  int registration_lock_failures_threshold = 100;    // failed Registration Lock attempts in the window
  int unverified_codes_per_prefix_threshold = 200;   // codes sent but not verified, per calling code, in the window
  double provider_share_threshold = 0.8;             // one provider's share of completed registrations
  int provider_share_min_registrations = 50;         // ... judged only above this many registrations
};

// Incident response: notifications and execution.
struct IncidentsConfig {
  std::string support_url = "https://support.example.org/account-security";  // linked from every notification
  int notify_parallelism = 16;                       // notification SMS handed to providers at once
  int batch_size = 500;                              // affected accounts unregistered per storage transaction
  std::size_t max_report_numbers = 1'000'000;        // numbers one breach report may list
  std::string default_language = "en";               // when the number's country has no template
};

struct LogConfig {
  std::string level = "info";  // trace, debug, info, warn, error
  bool access_log = false;     // one line per request (method, route, status, latency)
};

struct Config {
  ServerConfig server;
  StorageConfig storage;
  VerificationConfig verification;
  AccountsConfig accounts;
  LimitsConfig limits;
  SmsConfig sms;
  KeysConfig keys;
  DevicesConfig devices;
  MessagesConfig messages;
  StaffConfig staff;
  AuditConfig audit;
  AlertsConfig alerts;
  IncidentsConfig incidents;
  LogConfig log;
};

// Reads the TOML file at `path` over the defaults. On failure the error message lists every problem, one per
// line, each starting with its key path ("verification.code_ttl: expected a duration such as \"10m\"").
Result<Config> load_config_file(const std::string& path);

// As load_config_file, from TOML text. `origin` names the source in messages.
Result<Config> load_config_text(std::string_view toml_text, const std::string& origin = "config");

// The configuration used when no file is given: defaults plus one outbox provider at var/outbox.jsonl.
Config default_config();

// Checks cross-field rules (routes name known providers, TLS has both halves, ...). Empty when valid.
std::vector<std::string> validate_config(const Config& config);

// Moves every state file into `data_dir`, keeping file names (the --data-dir flag).
void relocate_state_files(Config& config, const std::string& data_dir);

}  // namespace latchkey
