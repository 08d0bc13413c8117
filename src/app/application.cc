#include "app/application.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "accounts/account_service.h"
#include "alerts/alert_engine.h"
#include "app/open_file_limit.h"
#include "audit/audit_service.h"
#include "devices/device_service.h"
#include "devices/provisioning_registry.h"
#include "keys/key_service.h"
#include "messages/client_presence.h"
#include "messages/message_service.h"
#include "core/encoding.h"
#include "core/logging.h"
#include "crypto/random.h"
#include "encrypted_storage/encrypted_storage_service.h"
#include "incidents/incident_service.h"
#include "crypto/secret_hash.h"
#include "limits/rate_limiter.h"
#include "limits/sms_pumping_breaker.h"
#include "metrics/metrics.h"
#include "net/api_routes.h"
#include "net/server.h"
#include "sms/sms_router.h"
#include "staff/account_lookup.h"
#include "staff/staff_service.h"
#include "storage/storage.h"
#include "verification/verification_service.h"

namespace latchkey {

struct Application::Components {
  SystemClock clock;
  SodiumRandom random;
  MetricsRegistry metrics;
  std::unique_ptr<Storage> storage;
  std::unique_ptr<SmsRouter> sms;
  std::unique_ptr<Limits> limits;
  std::unique_ptr<SmsPumpingBreaker> breaker;
  std::unique_ptr<VerificationService> verification;
  std::unique_ptr<RegistrationLockService> registration_lock;
  std::unique_ptr<BackupService> backups;
  std::unique_ptr<EncryptedStorageService> encrypted_storage;
  std::unique_ptr<TakeoverGuard> takeover;
  std::unique_ptr<AccountService> accounts;
  std::unique_ptr<KeyService> keys;
  std::unique_ptr<DeviceService> devices;
  ProvisioningRegistry provisioning;
  ClientPresence presence;
  std::unique_ptr<MessageService> messages;
  std::unique_ptr<AuditService> audit;
  std::unique_ptr<StaffService> staff;
  std::unique_ptr<AccountLookup> lookup;
  std::unique_ptr<AlertEngine> alerts;
  std::unique_ptr<IncidentService> incidents;
  Router router;
  std::unique_ptr<HttpServer> server;
};

Application::Application(Config config) : config_(std::move(config)) {}

Application::~Application() {
  if (components_ && components_->storage) components_->storage->close();
}

Result<std::string> load_or_create_code_hash_key(const Config& config) {
  if (!config.verification.code_hash_key.empty()) {
    auto key = hex_decode(config.verification.code_hash_key);
    if (!key || key->size() != 32) return make_error(ErrorCode::kInternal, "verification.code_hash_key: expected 64 hex characters");
    return *key;
  }
  namespace fs = std::filesystem;
  fs::path path = fs::path(config.server.data_dir) / "secret.key";
  std::error_code ec;
  fs::create_directories(config.server.data_dir, ec);
  if (ec) return make_error(ErrorCode::kInternal, "server.data_dir: cannot create " + config.server.data_dir + ": " + ec.message());
  if (std::ifstream in{path}; in) {
    std::string text;
    std::getline(in, text);
    auto key = hex_decode(text);
    if (!key || key->size() != 32) return make_error(ErrorCode::kInternal, path.string() + " does not hold a 64-hex-character key");
    return *key;
  }
  SodiumRandom random;
  std::string key = random_bytes(random, 32);
  std::string text = hex_encode(key) + "\n";
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return make_error(ErrorCode::kInternal, "cannot create " + path.string());
  bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!ok) return make_error(ErrorCode::kInternal, "cannot write " + path.string());
  log::info("secret_key_generated", {{"path", path.string()}});
  return key;
}

namespace {

// Raises the soft limit on open files before anything is opened, and warns when it is too low for
// server.max_connections: without this, a server started from a shell holds about 1,000 sockets at most.
void check_open_file_limit(std::size_t max_connections) {
  auto limit = raise_open_file_limit();
  if (!limit.ok()) {
    log::warn("open_file_limit_unchanged", {{"reason", limit.error().message}});
    return;
  }
  log::info("open_file_limit", {{"limit", limit->soft}, {"started_with", limit->before}, {"hard", limit->hard}});
  if (auto shortfall = open_file_limit_shortfall(limit->soft, max_connections))
    log::warn("open_file_limit_low",
              {{"limit", limit->soft}, {"max_connections", max_connections}, {"problem", *shortfall}});
}

}  // namespace

Status Application::start() {
  log::set_level(config_.log.level);
  if (!initialize_crypto()) return make_error(ErrorCode::kInternal, "libsodium failed to initialise");
  check_open_file_limit(config_.server.max_connections);
  auto c = std::make_unique<Components>();

  auto key = load_or_create_code_hash_key(config_);
  if (!key.ok()) return key.take_error();

  auto storage = open_storage(config_.storage, &c->metrics);
  if (!storage.ok()) return storage.take_error();
  c->storage = std::move(storage.value());

  auto sms = SmsRouter::from_config(config_.sms, c->metrics);
  if (!sms.ok()) return sms.take_error();
  c->sms = std::move(sms.value());

  c->limits = std::make_unique<Limits>(config_.limits, c->metrics);
  c->breaker = std::make_unique<SmsPumpingBreaker>(config_.limits.sms_pumping, c->metrics);
  // Each use of the server key gets its own derived key.
  std::string credentials_key = hkdf_sha256(*key, "", "latchkey backup credentials v1");
  c->verification = std::make_unique<VerificationService>(config_.verification, c->storage->sessions(), *c->sms,
                                                          *c->limits, *c->breaker, c->clock, c->random, c->metrics,
                                                          std::move(key.value()));
  c->registration_lock = std::make_unique<RegistrationLockService>(
      config_.accounts, c->storage->accounts(), c->storage->notices(), *c->limits, c->clock, c->random, c->metrics,
      std::move(credentials_key));
  c->backups = std::make_unique<BackupService>(c->storage->backups(), c->random, c->clock, c->metrics);
  c->encrypted_storage = std::make_unique<EncryptedStorageService>(config_.accounts, c->storage->encrypted_storage());
  c->takeover = std::make_unique<TakeoverGuard>(config_.accounts, c->storage->takeovers(), c->storage->notices(),
                                                *c->verification, c->clock, c->random, c->metrics);
  c->accounts = std::make_unique<AccountService>(config_.accounts, c->storage->accounts(), *c->verification,
                                                 *c->limits, c->registration_lock.get(), c->takeover.get(), c->clock,
                                                 c->random, c->metrics);
  AccountService* accounts = c->accounts.get();
  c->verification->set_on_verified([accounts](const std::string& number) { accounts->forget_recovery_password(number); });
  c->keys = std::make_unique<KeyService>(config_.keys, *c->storage, *c->limits, c->clock);
  c->devices = std::make_unique<DeviceService>(config_.devices, config_.accounts, *c->storage, *c->limits, c->clock,
                                               c->random);
  c->messages = std::make_unique<MessageService>(config_.messages, config_.devices.max_linked_devices, *c->storage,
                                                 c->presence, *c->limits, c->clock, c->metrics);
  // Devices that lose their credentials lose their open sockets too (close code 4401).
  // Any change to an account's devices also drops the relay's cached device list of that account, and the
  // credentials authentication remembers of it.
  ClientPresence* presence = &c->presence;
  MessageService* messages = c->messages.get();
  auto unregister = [presence, messages, accounts](const std::string& uuid,
                                                   std::optional<std::uint32_t> device_id) {
    accounts->forget_credentials(uuid);
    messages->forget_devices(uuid);
    presence->unregister(uuid, device_id);
  };
  c->accounts->set_devices_removed_listener(unregister);
  c->devices->set_devices_removed_listener(unregister);
  c->devices->set_device_added_listener([messages, accounts](const std::string& uuid) {
    accounts->forget_credentials(uuid);
    messages->forget_devices(uuid);
  });
  add_api_routes(c->router, ApiServices{*c->verification, *c->accounts, *c->registration_lock, *c->backups,
                                        *c->takeover, *c->storage, c->metrics, c->clock,
                                        *c->encrypted_storage, *c->keys, *c->devices, c->provisioning,
                                        *c->messages, c->presence, *c->limits, c->random, config_.devices});

  // The audit log of staff actions; its signing key lives outside the database.
  auto audit_key = load_or_create_audit_signing_key(config_.audit);
  if (!audit_key.ok()) return audit_key.take_error();
  c->audit = std::make_unique<AuditService>(c->storage->audit(), c->clock, std::move(audit_key.value()),
                                            config_.audit.checkpoint_file);
  // The staff console: WebAuthn sign-in, masked lookups, alerts (every staff action goes through the audit log).
  c->staff = std::make_unique<StaffService>(config_.staff, c->storage->staff(), *c->audit, c->clock, c->random,
                                            c->metrics);
  c->lookup = std::make_unique<AccountLookup>(config_.staff, c->storage->accounts(), *c->audit, c->clock, c->metrics);
  c->alerts = std::make_unique<AlertEngine>(config_.alerts, c->storage->alert_queries(), c->clock, c->metrics);
  add_staff_routes(c->router, *c->staff, *c->lookup, *c->audit, *c->alerts);
  // Incident response (AccountStore::create_or_replace logs every registration with the provider whose code
  // verified it, in the registration's transaction).
  c->incidents = std::make_unique<IncidentService>(config_.incidents, c->storage->incidents(), c->storage->sessions(),
                                                   *c->sms, *c->audit, c->clock, c->random, c->metrics);
  c->incidents->set_unregistered_listener([unregister](const std::string& uuid) { unregister(uuid, std::nullopt); });
  LK_RETURN_IF_ERROR(c->incidents->resume());
  add_incident_routes(c->router, *c->incidents, *c->staff);

  c->server = std::make_unique<HttpServer>(config_.server, c->router, c->metrics);
  LK_RETURN_IF_ERROR(c->server->start());
  c->server->set_access_log(config_.log.access_log);
  VerificationService* verification = c->verification.get();
  c->server->add_periodic_task(std::chrono::minutes(1), [verification] {
    auto purged = verification->purge_expired(10'000);
    if (!purged.ok()) log::warn("session_purge_failed", {{"reason", purged.error().message}});
    else if (*purged > 0) log::info("sessions_purged", {{"count", *purged}});
  });
  AuditService* audit = c->audit.get();
  c->server->add_periodic_task(config_.audit.checkpoint_interval, [audit] {
    auto written = audit->write_checkpoint();
    if (!written.ok()) log::error("audit_checkpoint_failed", {{"reason", written.error().message}});
  });
  AlertEngine* alerts = c->alerts.get();
  c->server->add_periodic_task(config_.alerts.evaluation_interval, [alerts] { alerts->evaluate(); });
  components_ = std::move(c);
  return {};
}

int Application::run() {
  components_->server->run();
  components_->server.reset();  // joins the handler pools
  // A last checkpoint covers everything audited up to the shutdown.
  if (auto written = components_->audit->write_checkpoint(); !written.ok())
    log::error("audit_checkpoint_failed", {{"reason", written.error().message}});
  components_->storage->close();
  return 0;
}

}  // namespace latchkey
