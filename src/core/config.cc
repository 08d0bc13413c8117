#include "core/config.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/core.h>
#include <toml++/toml.h>

namespace latchkey {
namespace {

// Reads typed values out of TOML tables, collecting every problem with its key path instead of stopping at
// the first one.
class Reader {
 public:
  std::vector<std::string> errors;

  void fail(const std::string& path, const std::string& what) { errors.push_back(path + ": " + what); }

  static std::string join(const std::string& path, std::string_view key) {
    return path.empty() ? std::string(key) : path + "." + std::string(key);
  }

  // Flags every key of `table` that is not in `known`.
  void check_keys(const toml::table& table, const std::string& path, std::initializer_list<std::string_view> known) {
    for (const auto& [key, node] : table) {
      bool found = false;
      for (auto k : known) found = found || key.str() == k;
      if (!found) fail(join(path, key.str()), "unknown key");
    }
  }

  const toml::table* table(const toml::table& parent, const std::string& path, std::string_view key) {
    const toml::node* node = parent.get(key);
    if (!node) return nullptr;
    if (!node->is_table()) {
      fail(join(path, key), "expected a table");
      return nullptr;
    }
    return node->as_table();
  }

  void read(const toml::table& t, const std::string& path, std::string_view key, std::string& out) {
    const toml::node* node = t.get(key);
    if (!node) return;
    if (auto v = node->value<std::string>(); v && node->is_string()) out = *v;
    else fail(join(path, key), "expected a string");
  }

  void read(const toml::table& t, const std::string& path, std::string_view key, bool& out) {
    const toml::node* node = t.get(key);
    if (!node) return;
    if (node->is_boolean()) out = *node->value<bool>();
    else fail(join(path, key), "expected true or false");
  }

  void read(const toml::table& t, const std::string& path, std::string_view key, std::int64_t& out, std::int64_t min,
            std::int64_t max) {
    const toml::node* node = t.get(key);
    if (!node) return;
    if (!node->is_integer()) {
      fail(join(path, key), "expected an integer");
      return;
    }
    std::int64_t v = *node->value<std::int64_t>();
    if (v < min || v > max) {
      fail(join(path, key), fmt::format("must be between {} and {}", min, max));
      return;
    }
    out = v;
  }

  void read(const toml::table& t, const std::string& path, std::string_view key, int& out, int min, int max) {
    std::int64_t v = out;
    read(t, path, key, v, min, max);
    out = static_cast<int>(v);
  }

  void read(const toml::table& t, const std::string& path, std::string_view key, std::size_t& out, std::int64_t min,
            std::int64_t max) {
    std::int64_t v = static_cast<std::int64_t>(out);
    read(t, path, key, v, min, max);
    out = static_cast<std::size_t>(v);
  }

  void read(const toml::table& t, const std::string& path, std::string_view key, double& out, double min, double max) {
    const toml::node* node = t.get(key);
    if (!node) return;
    if (!node->is_number()) {
      fail(join(path, key), "expected a number");
      return;
    }
    double v = *node->value<double>();
    if (!(v >= min && v <= max)) {
      fail(join(path, key), fmt::format("must be between {} and {}", min, max));
      return;
    }
    out = v;
  }

  std::optional<Duration> duration_of(const toml::node& node, const std::string& path) {
    if (!node.is_string()) {
      fail(path, "expected a duration string such as \"10m\"");
      return std::nullopt;
    }
    auto d = parse_duration(*node.value<std::string>());
    if (!d) fail(path, "expected a duration such as \"250ms\", \"5s\", \"10m\", \"24h\" or \"7d\"");
    return d;
  }

  void read(const toml::table& t, const std::string& path, std::string_view key, Duration& out) {
    const toml::node* node = t.get(key);
    if (!node) return;
    if (auto d = duration_of(*node, join(path, key))) out = *d;
  }

  void read(const toml::table& t, const std::string& path, std::string_view key, std::vector<Duration>& out) {
    const toml::node* node = t.get(key);
    if (!node) return;
    const toml::array* array = node->as_array();
    if (!array) {
      fail(join(path, key), "expected an array of durations");
      return;
    }
    std::vector<Duration> values;
    for (std::size_t i = 0; i < array->size(); ++i) {
      if (auto d = duration_of(*array->get(i), fmt::format("{}[{}]", join(path, key), i))) values.push_back(*d);
    }
    out = std::move(values);
  }

  void read(const toml::table& t, const std::string& path, std::string_view key, std::vector<std::string>& out) {
    const toml::node* node = t.get(key);
    if (!node) return;
    const toml::array* array = node->as_array();
    if (!array) {
      fail(join(path, key), "expected an array of strings");
      return;
    }
    std::vector<std::string> values;
    for (std::size_t i = 0; i < array->size(); ++i) {
      const toml::node* item = array->get(i);
      if (item->is_string()) values.push_back(*item->value<std::string>());
      else fail(fmt::format("{}[{}]", join(path, key), i), "expected a string");
    }
    out = std::move(values);
  }

  void read(const toml::table& t, const std::string& path, std::string_view key, BucketConfig& out) {
    const toml::table* bucket = table(t, path, key);
    if (!bucket) return;
    std::string p = join(path, key);
    check_keys(*bucket, p, {"burst", "refill"});
    read(*bucket, p, "burst", out.burst, 1, 100'000'000);
    read(*bucket, p, "refill", out.refill);
  }
};

void read_server(Reader& r, const toml::table& t, ServerConfig& c) {
  const std::string p = "server";
  r.check_keys(t, p, {"listen", "io_threads", "worker_threads", "outbound_threads", "read_timeout", "idle_timeout",
                      "max_body_bytes", "max_header_bytes", "max_connections", "shutdown_grace", "websocket_max_frame_bytes",
                      "websocket_ping_interval", "websocket_max_queued_frames", "tls_certificate",
                      "tls_private_key", "client_ip_header", "data_dir"});
  r.read(t, p, "listen", c.listen);
  r.read(t, p, "io_threads", c.io_threads, 1, 256);
  r.read(t, p, "worker_threads", c.worker_threads, 1, 1024);
  r.read(t, p, "outbound_threads", c.outbound_threads, 1, 1024);
  r.read(t, p, "read_timeout", c.read_timeout);
  r.read(t, p, "idle_timeout", c.idle_timeout);
  r.read(t, p, "max_body_bytes", c.max_body_bytes, 1024, 64 * 1024 * 1024);
  r.read(t, p, "max_header_bytes", c.max_header_bytes, 1024, 1024 * 1024);
  r.read(t, p, "max_connections", c.max_connections, 1, 10'000'000);
  r.read(t, p, "shutdown_grace", c.shutdown_grace);
  r.read(t, p, "websocket_max_frame_bytes", c.websocket_max_frame_bytes, 1024, 64 << 20);
  r.read(t, p, "websocket_ping_interval", c.websocket_ping_interval);
  r.read(t, p, "websocket_max_queued_frames", c.websocket_max_queued_frames, 16, 10'000'000);
  r.read(t, p, "tls_certificate", c.tls_certificate);
  r.read(t, p, "tls_private_key", c.tls_private_key);
  r.read(t, p, "client_ip_header", c.client_ip_header);
  r.read(t, p, "data_dir", c.data_dir);
}

void read_storage(Reader& r, const toml::table& t, StorageConfig& c) {
  const std::string p = "storage";
  r.check_keys(t, p, {"backend", "sqlite_path", "sqlite_synchronous", "sqlite_busy_timeout_ms", "write_batch_max",
                      "read_connections", "checkpoint_pages", "read_cache_kib", "write_cache_kib"});
  r.read(t, p, "backend", c.backend);
  r.read(t, p, "sqlite_path", c.sqlite_path);
  r.read(t, p, "sqlite_synchronous", c.sqlite_synchronous);
  r.read(t, p, "sqlite_busy_timeout_ms", c.sqlite_busy_timeout_ms, 0, 600'000);
  r.read(t, p, "write_batch_max", c.write_batch_max, 1, 100'000);
  r.read(t, p, "read_connections", c.read_connections, 1, 1024);
  r.read(t, p, "checkpoint_pages", c.checkpoint_pages, 16, 10'000'000);
  r.read(t, p, "read_cache_kib", c.read_cache_kib, 16, 16 << 20);
  r.read(t, p, "write_cache_kib", c.write_cache_kib, 16, 16 << 20);
}

void read_verification(Reader& r, const toml::table& t, VerificationConfig& c) {
  const std::string p = "verification";
  r.check_keys(t, p, {"proof_of_work_bits", "session_ttl", "code_ttl", "max_code_attempts", "sms_delays",
                      "call_delays", "allowed_country_codes", "code_hash_key"});
  r.read(t, p, "proof_of_work_bits", c.proof_of_work_bits, 0, 32);
  r.read(t, p, "session_ttl", c.session_ttl);
  r.read(t, p, "code_ttl", c.code_ttl);
  r.read(t, p, "max_code_attempts", c.max_code_attempts, 1, 100);
  r.read(t, p, "sms_delays", c.sms_delays);
  r.read(t, p, "call_delays", c.call_delays);
  r.read(t, p, "allowed_country_codes", c.allowed_country_codes);
  r.read(t, p, "code_hash_key", c.code_hash_key);
}

void read_accounts(Reader& r, const toml::table& t, AccountsConfig& c) {
  const std::string p = "accounts";
  r.check_keys(t, p,
               {"min_password_length", "max_password_length", "max_name_bytes", "registration_lock_window",
                "backup_credentials_ttl", "takeover_delay", "takeover_seen_window", "storage_max_value_bytes",
                "storage_max_manifest_bytes", "storage_max_items_per_request", "storage_max_items",
                "credential_cache_ttl", "credential_cache_entries"});
  r.read(t, p, "min_password_length", c.min_password_length, 8, 4096);
  r.read(t, p, "max_password_length", c.max_password_length, 8, 4096);
  r.read(t, p, "max_name_bytes", c.max_name_bytes, 0, 65536);
  r.read(t, p, "registration_lock_window", c.registration_lock_window);
  r.read(t, p, "backup_credentials_ttl", c.backup_credentials_ttl);
  r.read(t, p, "takeover_delay", c.takeover_delay);
  r.read(t, p, "takeover_seen_window", c.takeover_seen_window);
  r.read(t, p, "storage_max_value_bytes", c.storage_max_value_bytes, 1, 1 << 20);
  r.read(t, p, "storage_max_manifest_bytes", c.storage_max_manifest_bytes, 1, 1 << 20);
  r.read(t, p, "storage_max_items_per_request", c.storage_max_items_per_request, 1, 10000);
  r.read(t, p, "storage_max_items", c.storage_max_items, 1, 10'000'000);
  r.read(t, p, "credential_cache_ttl", c.credential_cache_ttl);
  r.read(t, p, "credential_cache_entries", c.credential_cache_entries, 32, 100'000'000);
}

void read_limits(Reader& r, const toml::table& t, LimitsConfig& c) {
  const std::string p = "limits";
  r.check_keys(t, p, {"session_create_per_number", "session_create_per_ip", "code_send_per_number",
                      "code_send_per_ip", "code_send_per_prefix", "code_check_per_number", "registration_per_number",
                      "registration_lock_per_number", "keys_upload_per_device", "prekey_lookup_per_requester",
                      "directory_per_requester", "directory_per_target", "device_link_per_ip",
                      "provisioning_per_account", "messages_per_sender",
                      "max_tracked_keys", "sms_pumping"});
  r.read(t, p, "session_create_per_number", c.session_create_per_number);
  r.read(t, p, "session_create_per_ip", c.session_create_per_ip);
  r.read(t, p, "code_send_per_number", c.code_send_per_number);
  r.read(t, p, "code_send_per_ip", c.code_send_per_ip);
  r.read(t, p, "code_send_per_prefix", c.code_send_per_prefix);
  r.read(t, p, "code_check_per_number", c.code_check_per_number);
  r.read(t, p, "registration_per_number", c.registration_per_number);
  r.read(t, p, "registration_lock_per_number", c.registration_lock_per_number);
  r.read(t, p, "keys_upload_per_device", c.keys_upload_per_device);
  r.read(t, p, "prekey_lookup_per_requester", c.prekey_lookup_per_requester);
  r.read(t, p, "directory_per_requester", c.directory_per_requester);
  r.read(t, p, "directory_per_target", c.directory_per_target);
  r.read(t, p, "device_link_per_ip", c.device_link_per_ip);
  r.read(t, p, "provisioning_per_account", c.provisioning_per_account);
  r.read(t, p, "messages_per_sender", c.messages_per_sender);
  r.read(t, p, "max_tracked_keys", c.max_tracked_keys, 1000, 1'000'000'000);
  if (const toml::table* pump = r.table(t, p, "sms_pumping")) {
    const std::string pp = "limits.sms_pumping";
    r.check_keys(*pump, pp, {"enabled", "window", "min_sent", "min_verified_ratio", "pause"});
    r.read(*pump, pp, "enabled", c.sms_pumping.enabled);
    r.read(*pump, pp, "window", c.sms_pumping.window);
    r.read(*pump, pp, "min_sent", c.sms_pumping.min_sent, 1, 100'000'000);
    r.read(*pump, pp, "min_verified_ratio", c.sms_pumping.min_verified_ratio, 0.0, 1.0);
    r.read(*pump, pp, "pause", c.sms_pumping.pause);
  }
}

void read_keys(Reader& r, const toml::table& t, KeysConfig& c) {
  const std::string p = "keys";
  r.check_keys(t, p, {"max_prekeys_per_upload", "max_stored_prekeys"});
  r.read(t, p, "max_prekeys_per_upload", c.max_prekeys_per_upload, 1, 10000);
  r.read(t, p, "max_stored_prekeys", c.max_stored_prekeys, 1, 100000);
}

void read_devices(Reader& r, const toml::table& t, DevicesConfig& c) {
  const std::string p = "devices";
  r.check_keys(t, p, {"max_linked_devices", "link_code_ttl", "provisioning_socket_ttl", "max_provisioning_bytes"});
  r.read(t, p, "max_linked_devices", c.max_linked_devices, 0, 100);
  r.read(t, p, "link_code_ttl", c.link_code_ttl);
  r.read(t, p, "provisioning_socket_ttl", c.provisioning_socket_ttl);
  r.read(t, p, "max_provisioning_bytes", c.max_provisioning_bytes, 1, 1 << 20);
}

void read_messages(Reader& r, const toml::table& t, MessagesConfig& c) {
  const std::string p = "messages";
  r.check_keys(t, p, {"max_content_bytes", "max_queued_per_device", "fetch_batch", "device_cache_ttl",
                      "device_cache_entries"});
  r.read(t, p, "max_content_bytes", c.max_content_bytes, 1, 16 << 20);
  r.read(t, p, "max_queued_per_device", c.max_queued_per_device, 1, 100'000'000);
  r.read(t, p, "fetch_batch", c.fetch_batch, 1, 10000);
  r.read(t, p, "device_cache_ttl", c.device_cache_ttl);
  r.read(t, p, "device_cache_entries", c.device_cache_entries, 32, 100'000'000);
}

void read_staff(Reader& r, const toml::table& t, StaffConfig& c) {
  const std::string p = "staff";
  r.check_keys(t, p, {"rp_id", "rp_name", "origins", "require_user_verification", "challenge_ttl", "session_ttl",
                      "session_idle_timeout", "invite_ttl", "cookie_secure", "lookups_per_staff", "sign_in_per_ip"});
  r.read(t, p, "rp_id", c.rp_id);
  r.read(t, p, "rp_name", c.rp_name);
  r.read(t, p, "origins", c.origins);
  r.read(t, p, "require_user_verification", c.require_user_verification);
  r.read(t, p, "challenge_ttl", c.challenge_ttl);
  r.read(t, p, "session_ttl", c.session_ttl);
  r.read(t, p, "session_idle_timeout", c.session_idle_timeout);
  r.read(t, p, "invite_ttl", c.invite_ttl);
  r.read(t, p, "cookie_secure", c.cookie_secure);
  r.read(t, p, "lookups_per_staff", c.lookups_per_staff);
  r.read(t, p, "sign_in_per_ip", c.sign_in_per_ip);
}

void read_audit(Reader& r, const toml::table& t, AuditConfig& c) {
  const std::string p = "audit";
  r.check_keys(t, p, {"signing_key_file", "checkpoint_file", "checkpoint_interval"});
  r.read(t, p, "signing_key_file", c.signing_key_file);
  r.read(t, p, "checkpoint_file", c.checkpoint_file);
  r.read(t, p, "checkpoint_interval", c.checkpoint_interval);
}

void read_alerts(Reader& r, const toml::table& t, AlertsConfig& c) {
  const std::string p = "alerts";
  r.check_keys(t, p, {"evaluation_interval", "window", "staff_lookups_threshold",
                      "staff_lookups_without_case_threshold", "reregistrations_threshold", "established_account_age",
                      "registration_lock_failures_threshold", "unverified_codes_per_prefix_threshold",
                      "provider_share_threshold", "provider_share_min_registrations"});
  r.read(t, p, "evaluation_interval", c.evaluation_interval);
  r.read(t, p, "window", c.window);
  r.read(t, p, "staff_lookups_threshold", c.staff_lookups_threshold, 1, 1'000'000'000);
  r.read(t, p, "staff_lookups_without_case_threshold", c.staff_lookups_without_case_threshold, 1, 1'000'000'000);
  r.read(t, p, "reregistrations_threshold", c.reregistrations_threshold, 1, 1'000'000'000);
  r.read(t, p, "established_account_age", c.established_account_age);
  r.read(t, p, "registration_lock_failures_threshold", c.registration_lock_failures_threshold, 1, 1'000'000'000);
  r.read(t, p, "unverified_codes_per_prefix_threshold", c.unverified_codes_per_prefix_threshold, 1, 1'000'000'000);
  r.read(t, p, "provider_share_threshold", c.provider_share_threshold, 0.0, 1.0);
  r.read(t, p, "provider_share_min_registrations", c.provider_share_min_registrations, 1, 1'000'000'000);
}

void read_incidents(Reader& r, const toml::table& t, IncidentsConfig& c) {
  const std::string p = "incidents";
  r.check_keys(t, p, {"support_url", "notify_parallelism", "batch_size", "max_report_numbers", "default_language"});
  r.read(t, p, "support_url", c.support_url);
  r.read(t, p, "notify_parallelism", c.notify_parallelism, 1, 1024);
  r.read(t, p, "batch_size", c.batch_size, 1, 100'000);
  r.read(t, p, "max_report_numbers", c.max_report_numbers, 1, 100'000'000);
  r.read(t, p, "default_language", c.default_language);
}

void read_sms(Reader& r, const toml::table& t, SmsConfig& c) {
  r.check_keys(t, "sms", {"providers", "routing"});
  if (const toml::node* providers = t.get("providers")) {
    const toml::array* array = providers->as_array();
    if (!array) {
      r.fail("sms.providers", "expected an array of tables ([[sms.providers]])");
    } else {
      c.providers.clear();
      for (std::size_t i = 0; i < array->size(); ++i) {
        std::string p = fmt::format("sms.providers[{}]", i);
        const toml::table* pt = array->get(i)->as_table();
        if (!pt) {
          r.fail(p, "expected a table");
          continue;
        }
        SmsProviderConfig pc;
        r.check_keys(*pt, p, {"name", "kind", "enabled", "path", "account_sid", "auth_token", "from",
                              "messaging_service_sid", "api_base", "timeout"});
        r.read(*pt, p, "name", pc.name);
        r.read(*pt, p, "kind", pc.kind);
        r.read(*pt, p, "enabled", pc.enabled);
        r.read(*pt, p, "path", pc.path);
        r.read(*pt, p, "account_sid", pc.account_sid);
        r.read(*pt, p, "auth_token", pc.auth_token);
        r.read(*pt, p, "from", pc.from);
        r.read(*pt, p, "messaging_service_sid", pc.messaging_service_sid);
        r.read(*pt, p, "api_base", pc.api_base);
        r.read(*pt, p, "timeout", pc.timeout);
        c.providers.push_back(std::move(pc));
      }
    }
  }
  if (const toml::table* routing = r.table(t, "sms", "routing")) {
    for (const auto& [key, node] : *routing) {
      std::string k(key.str());
      std::vector<std::string> route;
      r.read(*routing, "sms.routing", k, route);
      if (k == "default") {
        c.routing.default_route = std::move(route);
      } else {
        c.routing.by_country[k] = std::move(route);
      }
    }
  }
}

void read_log(Reader& r, const toml::table& t, LogConfig& c) {
  r.check_keys(t, "log", {"level", "access_log"});
  r.read(t, "log", "level", c.level);
  r.read(t, "log", "access_log", c.access_log);
}

bool is_calling_code(const std::string& s) {
  if (s.empty() || s.size() > 3 || s[0] == '0') return false;
  for (char ch : s)
    if (ch < '0' || ch > '9') return false;
  return true;
}

bool is_hex(const std::string& s) {
  for (char ch : s)
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F'))) return false;
  return true;
}

Result<Config> fail_with(const std::vector<std::string>& errors) {
  std::string message;
  for (const auto& e : errors) message += e + "\n";
  if (!message.empty()) message.pop_back();
  return make_error(ErrorCode::kMalformedRequest, message);
}

}  // namespace

Config default_config() {
  Config c;
  SmsProviderConfig outbox;
  outbox.name = "dev-outbox";
  outbox.kind = "outbox";
  outbox.path = "var/outbox.jsonl";
  c.sms.providers.push_back(outbox);
  c.sms.routing.default_route = {"dev-outbox"};
  return c;
}

Result<Config> load_config_text(std::string_view toml_text, const std::string& origin) {
  toml::table root;
  try {
    root = toml::parse(toml_text, origin);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    return fail_with({fmt::format("{}:{}:{}: {}", origin, where.line, where.column, e.description())});
  }
  Config c;
  c.sms = default_config().sms;  // a file that leaves out providers or routing keeps the built-in outbox
  Reader r;
  r.check_keys(root, "", {"server", "storage", "verification", "accounts", "limits", "sms", "keys", "devices",
                          "messages", "staff", "audit", "alerts", "incidents", "log"});
  if (auto* t = r.table(root, "", "server")) read_server(r, *t, c.server);
  if (auto* t = r.table(root, "", "storage")) read_storage(r, *t, c.storage);
  if (auto* t = r.table(root, "", "verification")) read_verification(r, *t, c.verification);
  if (auto* t = r.table(root, "", "accounts")) read_accounts(r, *t, c.accounts);
  if (auto* t = r.table(root, "", "limits")) read_limits(r, *t, c.limits);
  if (auto* t = r.table(root, "", "sms")) read_sms(r, *t, c.sms);
  if (auto* t = r.table(root, "", "keys")) read_keys(r, *t, c.keys);
  if (auto* t = r.table(root, "", "devices")) read_devices(r, *t, c.devices);
  if (auto* t = r.table(root, "", "messages")) read_messages(r, *t, c.messages);
  if (auto* t = r.table(root, "", "staff")) read_staff(r, *t, c.staff);
  if (auto* t = r.table(root, "", "audit")) read_audit(r, *t, c.audit);
  if (auto* t = r.table(root, "", "alerts")) read_alerts(r, *t, c.alerts);
  if (auto* t = r.table(root, "", "incidents")) read_incidents(r, *t, c.incidents);
  if (auto* t = r.table(root, "", "log")) read_log(r, *t, c.log);
  std::vector<std::string> errors = r.errors;
  for (auto& e : validate_config(c)) errors.push_back(std::move(e));
  if (!errors.empty()) return fail_with(errors);
  return c;
}

Result<Config> load_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kMalformedRequest, path + ": cannot be read");
  std::stringstream buffer;
  buffer << in.rdbuf();
  return load_config_text(buffer.str(), path);
}

std::vector<std::string> validate_config(const Config& c) {
  std::vector<std::string> errors;
  auto fail = [&](const std::string& path, const std::string& what) { errors.push_back(path + ": " + what); };

  auto colon = c.server.listen.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == c.server.listen.size()) {
    fail("server.listen", "expected host:port, e.g. \"127.0.0.1:8080\"");
  } else {
    const std::string port = c.server.listen.substr(colon + 1);
    bool digits = port.size() <= 5 && std::all_of(port.begin(), port.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
    if (!digits || std::stoi(port) > 65535) fail("server.listen", "port must be a number from 0 to 65535");
  }
  if (c.server.tls_certificate.empty() && !c.server.tls_private_key.empty())
    fail("server.tls_certificate", "must be set when server.tls_private_key is set");
  if (!c.server.tls_certificate.empty() && c.server.tls_private_key.empty())
    fail("server.tls_private_key", "must be set when server.tls_certificate is set");
  if (c.server.read_timeout.count() <= 0) fail("server.read_timeout", "must be positive");
  if (c.server.idle_timeout.count() <= 0) fail("server.idle_timeout", "must be positive");
  if (c.server.data_dir.empty()) fail("server.data_dir", "must not be empty");

  if (c.storage.backend == "postgres")
    fail("storage.backend", "\"postgres\" is not available in this release yet; use \"sqlite\"");
  else if (c.storage.backend != "sqlite")
    fail("storage.backend", "expected \"sqlite\"");
  if (c.storage.backend == "sqlite" && c.storage.sqlite_path.empty()) fail("storage.sqlite_path", "must not be empty");
  if (c.storage.sqlite_synchronous != "full" && c.storage.sqlite_synchronous != "normal")
    fail("storage.sqlite_synchronous", "expected \"full\" or \"normal\"");

  const auto& v = c.verification;
  if (v.session_ttl.count() <= 0) fail("verification.session_ttl", "must be positive");
  if (v.code_ttl.count() <= 0) fail("verification.code_ttl", "must be positive");
  if (v.code_ttl > v.session_ttl) fail("verification.code_ttl", "must not exceed verification.session_ttl");
  if (v.sms_delays.empty()) fail("verification.sms_delays", "must list at least one delay");
  if (v.call_delays.empty()) fail("verification.call_delays", "must list at least one delay");
  for (std::size_t i = 0; i < v.allowed_country_codes.size(); ++i)
    if (!is_calling_code(v.allowed_country_codes[i]))
      fail(fmt::format("verification.allowed_country_codes[{}]", i), "expected a country calling code like \"33\"");
  if (!v.code_hash_key.empty() && (v.code_hash_key.size() != 64 || !is_hex(v.code_hash_key)))
    fail("verification.code_hash_key", "expected 64 hexadecimal characters (32 bytes) or empty");

  if (c.accounts.min_password_length > c.accounts.max_password_length)
    fail("accounts.min_password_length", "must not exceed accounts.max_password_length");

  auto check_bucket = [&](const char* name, const BucketConfig& b) {
    if (b.refill.count() <= 0) fail(fmt::format("limits.{}.refill", name), "must be positive");
  };
  check_bucket("session_create_per_number", c.limits.session_create_per_number);
  check_bucket("session_create_per_ip", c.limits.session_create_per_ip);
  check_bucket("code_send_per_number", c.limits.code_send_per_number);
  check_bucket("code_send_per_ip", c.limits.code_send_per_ip);
  check_bucket("code_send_per_prefix", c.limits.code_send_per_prefix);
  check_bucket("code_check_per_number", c.limits.code_check_per_number);
  check_bucket("registration_per_number", c.limits.registration_per_number);
  check_bucket("registration_lock_per_number", c.limits.registration_lock_per_number);
  check_bucket("keys_upload_per_device", c.limits.keys_upload_per_device);
  check_bucket("prekey_lookup_per_requester", c.limits.prekey_lookup_per_requester);
  check_bucket("directory_per_requester", c.limits.directory_per_requester);
  check_bucket("directory_per_target", c.limits.directory_per_target);
  check_bucket("device_link_per_ip", c.limits.device_link_per_ip);
  check_bucket("provisioning_per_account", c.limits.provisioning_per_account);
  check_bucket("messages_per_sender", c.limits.messages_per_sender);
  if (c.keys.max_prekeys_per_upload > c.keys.max_stored_prekeys)
    fail("keys.max_prekeys_per_upload", "must not exceed keys.max_stored_prekeys");
  if (c.devices.link_code_ttl.count() <= 0) fail("devices.link_code_ttl", "must be positive");
  if (c.devices.provisioning_socket_ttl.count() <= 0) fail("devices.provisioning_socket_ttl", "must be positive");
  if (c.server.websocket_ping_interval.count() <= 0) fail("server.websocket_ping_interval", "must be positive");
  if (c.accounts.registration_lock_window.count() <= 0) fail("accounts.registration_lock_window", "must be positive");
  if (c.accounts.backup_credentials_ttl.count() <= 0) fail("accounts.backup_credentials_ttl", "must be positive");
  if (c.accounts.takeover_delay.count() < 0) fail("accounts.takeover_delay", "must not be negative");
  if (c.accounts.takeover_seen_window.count() <= 0) fail("accounts.takeover_seen_window", "must be positive");
  if (c.accounts.storage_max_items_per_request > c.accounts.storage_max_items)
    fail("accounts.storage_max_items_per_request", "must not exceed accounts.storage_max_items");
  if (c.limits.sms_pumping.window.count() <= 0) fail("limits.sms_pumping.window", "must be positive");
  if (c.limits.sms_pumping.pause.count() <= 0) fail("limits.sms_pumping.pause", "must be positive");

  if (c.staff.rp_id.empty()) fail("staff.rp_id", "must not be empty");
  if (c.staff.origins.empty()) fail("staff.origins", "must list at least one origin");
  for (std::size_t i = 0; i < c.staff.origins.size(); ++i) {
    const auto& o = c.staff.origins[i];
    if ((o.rfind("https://", 0) != 0 && o.rfind("http://", 0) != 0) || o.back() == '/')
      fail(fmt::format("staff.origins[{}]", i), "expected an origin such as \"https://console.example.org\" (no path)");
  }
  for (auto [name, d] : {std::pair{"staff.challenge_ttl", c.staff.challenge_ttl},
                         std::pair{"staff.session_ttl", c.staff.session_ttl},
                         std::pair{"staff.session_idle_timeout", c.staff.session_idle_timeout},
                         std::pair{"staff.invite_ttl", c.staff.invite_ttl},
                         std::pair{"audit.checkpoint_interval", c.audit.checkpoint_interval},
                         std::pair{"alerts.evaluation_interval", c.alerts.evaluation_interval},
                         std::pair{"alerts.window", c.alerts.window}})
    if (d.count() <= 0) fail(name, "must be positive");
  if (c.staff.lookups_per_staff.refill.count() <= 0) fail("staff.lookups_per_staff.refill", "must be positive");
  if (c.staff.sign_in_per_ip.refill.count() <= 0) fail("staff.sign_in_per_ip.refill", "must be positive");
  if (c.audit.signing_key_file.empty()) fail("audit.signing_key_file", "must not be empty");
  if (c.audit.checkpoint_file.empty()) fail("audit.checkpoint_file", "must not be empty");
  if (c.incidents.support_url.rfind("https://", 0) != 0 && c.incidents.support_url.rfind("http://", 0) != 0)
    fail("incidents.support_url", "expected an http:// or https:// URL");

  std::set<std::string> names;
  for (std::size_t i = 0; i < c.sms.providers.size(); ++i) {
    const auto& p = c.sms.providers[i];
    std::string path = fmt::format("sms.providers[{}]", i);
    if (p.name.empty()) fail(path + ".name", "must not be empty");
    else if (!names.insert(p.name).second) fail(path + ".name", "duplicate provider name \"" + p.name + "\"");
    if (p.timeout.count() <= 0) fail(path + ".timeout", "must be positive");
    if (p.kind == "outbox") {
      if (p.path.empty()) fail(path + ".path", "an outbox provider needs a path");
    } else if (p.kind == "twilio-messaging") {
      if (p.account_sid.size() != 34 || p.account_sid.rfind("AC", 0) != 0)
        fail(path + ".account_sid", "expected a Twilio Account SID: \"AC\" followed by 32 characters");
      if (p.auth_token.empty()) fail(path + ".auth_token", "must not be empty");
      if (p.from.empty() == p.messaging_service_sid.empty())
        fail(path + ".from", "set exactly one of from and messaging_service_sid");
      if (p.api_base.rfind("https://", 0) != 0 && p.api_base.rfind("http://", 0) != 0)
        fail(path + ".api_base", "expected an http:// or https:// URL");
    } else {
      fail(path + ".kind", "expected \"outbox\" or \"twilio-messaging\"");
    }
  }
  auto check_route = [&](const std::string& path, const std::vector<std::string>& route) {
    for (std::size_t i = 0; i < route.size(); ++i)
      if (!names.count(route[i]))
        fail(fmt::format("{}[{}]", path, i), "unknown provider \"" + route[i] + "\"");
  };
  if (c.sms.routing.default_route.empty()) fail("sms.routing.default", "must name at least one provider");
  check_route("sms.routing.default", c.sms.routing.default_route);
  for (const auto& [code, route] : c.sms.routing.by_country) {
    if (!is_calling_code(code)) fail("sms.routing." + code, "expected \"default\" or a country calling code like \"33\"");
    check_route("sms.routing." + code, route);
  }

  static const std::set<std::string> kLevels = {"trace", "debug", "info", "warn", "error"};
  if (!kLevels.count(c.log.level)) fail("log.level", "expected trace, debug, info, warn or error");
  return errors;
}

void relocate_state_files(Config& config, const std::string& data_dir) {
  namespace fs = std::filesystem;
  config.server.data_dir = data_dir;
  auto move = [&](std::string& path) {
    if (!path.empty()) path = (fs::path(data_dir) / fs::path(path).filename()).string();
  };
  move(config.storage.sqlite_path);
  move(config.audit.signing_key_file);
  move(config.audit.checkpoint_file);
  for (auto& p : config.sms.providers)
    if (p.kind == "outbox") move(p.path);
}

}  // namespace latchkey
