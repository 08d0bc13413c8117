// Incident execution time (docs/performance.md, "Incident response"): among N accounts (1,000,000 by
// default), an approved incident lists M affected numbers; the bench times from the start of execution to every
// device unregistered and every notification handed to the provider. Notifications go through the real
// twilio-messaging provider to a fake Twilio on loopback that speaks Twilio's Messages API (POST
// /2010-04-01/Accounts/{sid}/Messages.json, form-encoded, Basic auth; 201 with a Message JSON).
//
//   latchkey_incident_bench [--accounts 1000000] [--affected 1900,100000] [--dir DIR] [--parallelism 64]
//
// The 1M-account database is generated once into DIR (bulk inserts) and copied for each run.
#include <sqlite3.h>
#include <sys/socket.h>
#include <sys/resource.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "audit/audit_service.h"
#include "crypto/random.h"
#include "incidents/incident_service.h"
#include "metrics/metrics.h"
#include "sms/sms_router.h"
#include "storage/storage.h"

namespace beast = boost::beast;
namespace http = beast::http;
using boost::asio::ip::tcp;
using namespace latchkey;

namespace {

constexpr const char* kSid = "AC0123456789abcdef0123456789abcdef";
constexpr const char* kToken = "bench-auth-token";

std::string number_of(std::int64_t i) { return fmt::format("+336{:08d}", 10'000'000 + i); }

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

// The fake Twilio: one thread per keep-alive connection; checks the path, answers 201 with a Message JSON.
class FakeTwilio {
 public:
  FakeTwilio() : acceptor_(io_, tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0)) {
    thread_ = std::thread([this] { accept_loop(); });
  }
  ~FakeTwilio() {
    stopping_ = true;
    {  // wakes the blocking accept()
      boost::asio::io_context io;
      tcp::socket poke(io);
      boost::system::error_code ec;
      poke.connect(acceptor_.local_endpoint(), ec);
    }
    thread_.join();
    {  // ends reads blocked on idle keep-alive connections
      std::lock_guard lock(mutex_);
      for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : connections_) t.join();
  }
  unsigned short port() const { return acceptor_.local_endpoint().port(); }
  std::uint64_t accepted() const { return accepted_.load(); }

 private:
  void accept_loop() {
    for (;;) {
      tcp::socket socket(io_);
      boost::system::error_code ec;
      acceptor_.accept(socket, ec);
      if (ec || stopping_) return;
      {
        std::lock_guard lock(mutex_);
        fds_.push_back(socket.native_handle());
      }
      connections_.emplace_back([this, s = std::move(socket)]() mutable { serve(std::move(s)); });
    }
  }
  void serve(tcp::socket socket) {
    beast::flat_buffer buffer;
    const std::string path = fmt::format("/2010-04-01/Accounts/{}/Messages.json", kSid);
    for (;;) {
      http::request<http::string_body> request;
      boost::system::error_code ec;
      http::read(socket, buffer, request, ec);
      if (ec) return;
      http::response<http::string_body> response;
      response.version(11);
      response.keep_alive(request.keep_alive());
      if (request.method() != http::verb::post || request.target() != path ||
          request[http::field::content_type].find("application/x-www-form-urlencoded") == std::string::npos) {
        response.result(http::status::not_found);
        response.body() = R"({"code":20404,"message":"not found","status":404})";
      } else {
        const std::uint64_t n = accepted_.fetch_add(1) + 1;
        response.result(http::status::created);
        response.body() = nlohmann::json{{"sid", fmt::format("SM{:032x}", n)},
                                         {"account_sid", kSid},
                                         {"status", "queued"},
                                         {"api_version", "2010-04-01"}}
                              .dump();
      }
      response.set(http::field::content_type, "application/json");
      response.prepare_payload();
      http::write(socket, response, ec);
      if (ec || !request.keep_alive()) return;
    }
  }

  boost::asio::io_context io_;
  tcp::acceptor acceptor_;
  std::thread thread_;
  std::vector<std::thread> connections_;
  std::mutex mutex_;
  std::vector<int> fds_;  // guarded by mutex_
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> accepted_{0};
};

// N accounts with one device each, written with raw bulk inserts into a freshly migrated database.
void generate(const std::string& path, std::int64_t accounts) {
  {
    StorageConfig config;
    config.sqlite_path = path;
    auto storage = open_storage(config);
    if (!storage.ok()) throw std::runtime_error(storage.error().message);
  }
  sqlite3* db = nullptr;
  sqlite3_open(path.c_str(), &db);
  sqlite3_exec(db, "PRAGMA synchronous=OFF; BEGIN", nullptr, nullptr, nullptr);
  sqlite3_stmt* account = nullptr;
  sqlite3_stmt* device = nullptr;
  sqlite3_prepare_v2(db, "INSERT INTO accounts (uuid, number, created_at) VALUES (?1, ?2, ?3)", -1, &account, nullptr);
  sqlite3_prepare_v2(db,
                     "INSERT INTO devices (account_uuid, device_id, password_hash, registration_id, name, created_at, "
                     "last_seen_at) VALUES (?1, 1, x'00', 1, x'', ?2, ?2)",
                     -1, &device, nullptr);
  const std::int64_t now = 1'763'000'000'000;
  for (std::int64_t i = 0; i < accounts; ++i) {
    const std::string uuid = fmt::format("00000000-0000-4000-8000-{:012d}", i);
    const std::string number = number_of(i);
    sqlite3_bind_text(account, 1, uuid.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(account, 2, number.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(account, 3, now);
    sqlite3_step(account);
    sqlite3_reset(account);
    sqlite3_bind_text(device, 1, uuid.c_str(), -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(device, 2, now);
    if (sqlite3_step(device) != SQLITE_DONE) throw std::runtime_error(sqlite3_errmsg(db));
    sqlite3_reset(device);
  }
  sqlite3_finalize(account);
  sqlite3_finalize(device);
  sqlite3_exec(db, "COMMIT", nullptr, nullptr, nullptr);
  sqlite3_close(db);
}

}  // namespace

int main(int argc, char** argv) {
  std::int64_t accounts = 1'000'000;
  std::vector<std::int64_t> affected_runs = {1900, 100'000};
  std::string dir = (std::filesystem::temp_directory_path() / "latchkey-incident-bench").string();
  int parallelism = 64;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i], value = argv[i + 1];
    if (flag == "--accounts") accounts = std::stoll(value);
    else if (flag == "--dir") dir = value;
    else if (flag == "--parallelism") parallelism = std::stoi(value);
    else if (flag == "--affected") {
      affected_runs.clear();
      for (std::size_t start = 0; start < value.size();) {
        std::size_t comma = value.find(',', start);
        affected_runs.push_back(std::stoll(value.substr(start, comma - start)));
        start = comma == std::string::npos ? value.size() : comma + 1;
      }
    } else {
      std::cerr << "unknown flag " << flag << "\n";
      return 2;
    }
  }
  initialize_crypto();
  std::filesystem::create_directories(dir);
  const std::string seed = fmt::format("{}/accounts-{}.db", dir, accounts);
  if (!std::filesystem::exists(seed)) {
    auto t = std::chrono::steady_clock::now();
    std::cerr << "incident_bench: generating " << accounts << " accounts into " << seed << "\n";
    generate(seed + ".tmp", accounts);
    std::filesystem::rename(seed + ".tmp", seed);
    std::cerr << fmt::format("incident_bench: generated in {:.1f}s\n", seconds_since(t));
  }

  FakeTwilio twilio;
  nlohmann::json results = nlohmann::json::array();
  for (std::int64_t affected : affected_runs) {
    if (affected > accounts) affected = accounts;
    const std::string run_dir = fmt::format("{}/run-{}", dir, affected);
    std::filesystem::remove_all(run_dir);
    std::filesystem::create_directories(run_dir);
    std::filesystem::copy_file(seed, run_dir + "/latchkey.db");

    Config config = default_config();
    config.storage.sqlite_path = run_dir + "/latchkey.db";
    config.storage.sqlite_synchronous = "full";
    config.incidents.notify_parallelism = parallelism;
    config.incidents.batch_size = 1000;
    config.audit.signing_key_file = run_dir + "/audit.key";
    config.audit.checkpoint_file = run_dir + "/checkpoints.jsonl";
    SmsProviderConfig twilio_config;
    twilio_config.name = "fake-twilio";
    twilio_config.kind = "twilio-messaging";
    twilio_config.account_sid = kSid;
    twilio_config.auth_token = kToken;
    twilio_config.from = "+15005550006";
    twilio_config.api_base = fmt::format("http://127.0.0.1:{}", twilio.port());
    config.sms.providers = {twilio_config};
    config.sms.routing.default_route = {"fake-twilio"};

    auto storage = open_storage(config.storage);
    if (!storage.ok()) {
      std::cerr << storage.error().message << "\n";
      return 1;
    }
    MetricsRegistry metrics;
    auto router = SmsRouter::from_config(config.sms, metrics);
    if (!router.ok()) {
      std::cerr << router.error().message << "\n";
      return 1;
    }
    SystemClock clock;
    SodiumRandom random;
    auto key = load_or_create_audit_signing_key(config.audit);
    AuditService audit((*storage)->audit(), clock, std::move(key.value()), config.audit.checkpoint_file);
    IncidentService service(config.incidents, (*storage)->incidents(), (*storage)->sessions(), **router, audit, clock,
                            random, metrics);
    std::atomic<std::int64_t> sockets_closed{0};
    service.set_unregistered_listener([&](const std::string&) { sockets_closed.fetch_add(1); });

    // The affected numbers: spread over the whole population.
    std::mt19937_64 rng(42);
    std::vector<std::int64_t> picks(accounts);
    for (std::int64_t i = 0; i < accounts; ++i) picks[i] = i;
    std::shuffle(picks.begin(), picks.end(), rng);
    std::string csv = "number\n";
    for (std::int64_t i = 0; i < affected; ++i) csv += number_of(picks[i]) + "\n";
    StaffPrincipal creator{"bench-creator", "creator", StaffRole::kResponder};
    StaffPrincipal approver{"bench-approver", "approver", StaffRole::kResponder};
    auto t_create = std::chrono::steady_clock::now();
    auto incident = service.create_from_report(creator, "bench", 0 + 946'684'800'001, clock.now_ms(), "csv", csv, nullptr);
    if (!incident.ok()) {
      std::cerr << incident.error().message << "\n";
      return 1;
    }
    const double create_s = seconds_since(t_create);
    if (!service.approve(approver, incident->id).ok()) return 1;

    const std::uint64_t accepted_before = twilio.accepted();
    // From approval to the end: the run executes on this thread.
    auto t0 = std::chrono::steady_clock::now();
    if (!(*storage)->incidents().transition(incident->id, "approved", "running", "", clock.now_ms()).ok()) return 1;
    Status ran = service.run(incident->id);
    const double total_s = seconds_since(t0);
    if (!ran.ok()) {
      std::cerr << ran.error().message << "\n";
      return 1;
    }
    auto progress = service.progress(incident->id);
    const auto& c = progress->counts;
    const std::uint64_t delivered = twilio.accepted() - accepted_before;
    nlohmann::json r = {{"accounts", accounts},       {"affected", affected},
                        {"create_s", create_s},       {"execute_s", total_s},
                        {"unregistered", c.unregistered}, {"notified", c.notified},
                        {"failed", c.failed},         {"provider_accepted", delivered},
                        {"sockets_closed", sockets_closed.load()}, {"parallelism", parallelism},
                        {"notifications_per_s", c.notified / total_s}, {"peak_rss_kib", peak_rss_kib()}};
    results.push_back(r);
    std::cout << fmt::format(
        "{} affected of {} accounts: incident created (impact computed) in {:.3f}s; executed in {:.3f}s "
        "({} unregistered, {} notified, {} failed, {} accepted by the fake Twilio, {:.0f} notifications/s); "
        "peak RSS {} MiB\n",
        affected, accounts, create_s, total_s, c.unregistered, c.notified, c.failed, delivered,
        c.notified / total_s, peak_rss_kib() / 1024);
    (*storage)->close();
    std::filesystem::remove_all(run_dir);
    if (c.unregistered != affected || c.notified != affected || delivered != static_cast<std::uint64_t>(affected)) {
      std::cerr << "incident_bench: not every account was unregistered and notified\n";
      return 1;
    }
  }
  std::cout << results.dump(2) << "\n";
  return 0;
}
