// latchkey_loadgen: drives complete registrations (or Registration Lock re-registrations, or backup restores)
// against a running latchkeyd.
//
// Each virtual client owns one keep-alive HTTP/1.1 connection and loops the whole flow:
//   POST /v1/verification/session -> [solve proof of work, PATCH] -> POST .../code {"transport":"sms"}
//   -> read the code from the outbox file -> PUT .../code -> POST /v1/registration (Basic number:password).
// Numbers are valid French mobiles (+336XXXXXXXX) from a random base plus a counter, so runs do not collide.
// The server appends each SMS to the outbox with write(2) before it answers the POST, so after a 200 the line
// is already in the file: the generator keeps a file offset, reads new bytes, and indexes codes by number.
//
// --scenario picks what is looped (each client keeps its own account in the last two):
//   register  the flow above with a fresh number each time (default);
//   lock      setup (not timed): register a fresh number, PUT /v1/accounts/registration_lock, PUT
//             /v1/backup and POST /v1/backup/expose with the device's credentials; then loop one "locked
//             re-registration": the verification flow again for the same number -> POST /v1/registration
//             without the token (expects 423, step register_423, which hands out backupCredentials) ->
//             POST /v1/backup/restore with those credentials (expects 200, step restore) -> POST
//             /v1/registration with accountAttributes.registrationLock on the same session (expects 200 at
//             once, not the takeover delay's 202: step register_with_lock); the new password is kept;
//   restore   the same setup, then loop POST /v1/backup/restore with the device's credentials (step
//             restore).
//
// Everything is bounded: by --duration (plus --warmup), by --max-registrations and by a per-request
// --timeout. Output: a table on stderr/stdout and, with --json, one JSON object on stdout.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <string_view>

#include "core/encoding.h"
#include "crypto/proof_of_work.h"
#include "crypto/random.h"
#include <thread>
#include <unordered_map>
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it
#include <vector>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;

namespace {

// --------------------------------------------------------------------------------------------------------
// Options

enum class Scenario { kRegister, kLock, kRestore };

const char* scenario_name(Scenario s) {
  switch (s) {
    case Scenario::kLock:
      return "lock";
    case Scenario::kRestore:
      return "restore";
    case Scenario::kRegister:
      break;
  }
  return "register";
}

// What one completed iteration is, in the output.
const char* scenario_unit(Scenario s) {
  switch (s) {
    case Scenario::kLock:
      return "locked_reregistrations";
    case Scenario::kRestore:
      return "restores";
    case Scenario::kRegister:
      break;
  }
  return "registrations";
}

struct Options {
  Scenario scenario = Scenario::kRegister;
  std::string host = "127.0.0.1";
  std::string port = "8080";
  std::string outbox;
  int concurrency = 64;
  int threads = 1;
  double duration_s = 10.0;
  double warmup_s = 2.0;
  double rate = 0.0;                          // registrations/s across all clients; 0 = as fast as possible
  std::uint64_t max_registrations = 0;        // 0 = unbounded (time still bounds the run)
  double timeout_s = 10.0;                    // per HTTP request, connect included
  double outbox_wait_s = 2.0;                 // how long a code may take to appear in the outbox
  double give_up_s = 5.0;                     // stop when connections fail and nothing answered for this long
  std::uint64_t requests_per_connection = 0;  // reconnect after this many requests; 0 = keep the connection
  std::uint64_t seed = 0;                     // 0 = random
  bool json = false;
  std::string json_out;
  int max_error_samples = 5;
};

[[noreturn]] void usage(int code) {
  std::fprintf(
      code == 0 ? stdout : stderr,
      "usage: latchkey_loadgen --outbox PATH [options]\n"
      "  --scenario S           register (default): registrations of fresh numbers; lock: locked\n"
      "                         re-registrations (423, backup restore, registration with the lock token);\n"
      "                         restore: backup restores with device credentials (registration_loadgen.cc)\n"
      "  --host H               server address (default 127.0.0.1)\n"
      "  --port P               server port (default 8080)\n"
      "  --outbox PATH          outbox JSON-lines file the server writes codes to (required)\n"
      "  --concurrency N        virtual clients, one keep-alive connection each (default 64)\n"
      "  --threads N            threads running the io_context (default 1)\n"
      "  --duration D           measured time, e.g. 10s, 500ms, 1m (default 10s)\n"
      "  --warmup D             unmeasured time before it (default 2s)\n"
      "  --rate R               target flows/s (iterations of the scenario), paced across clients; 0 = max\n"
      "  --max-registrations N  start at most N flows (iterations of the scenario; default unbounded)\n"
      "  --timeout D            per-request deadline (default 10s)\n"
      "  --outbox-wait D        how long a code may take to show in the outbox (default 2s)\n"
      "  --give-up D            stop when connections fail and nothing answered for D (default 5s)\n"
      "  --requests-per-connection N  reconnect after N requests (default 0: one connection per client)\n"
      "  --seed N               number/password seed (default random)\n"
      "  --json                 print one JSON object on stdout (the table goes to stderr)\n"
      "  --json-out FILE        also write the JSON object to FILE\n"
      "  --error-samples N      print the first N unexpected responses (default 5)\n");
  std::exit(code);
}

double parse_seconds(const std::string& text, const char* what) {
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  std::string unit = end ? std::string(end) : std::string();
  double scale = 0;
  if (unit.empty() || unit == "s")
    scale = 1;
  else if (unit == "ms")
    scale = 1e-3;
  else if (unit == "m")
    scale = 60;
  else if (unit == "h")
    scale = 3600;
  if (end == text.c_str() || scale == 0 || !(v >= 0) || !std::isfinite(v)) {
    std::fprintf(stderr, "latchkey_loadgen: bad %s: %s\n", what, text.c_str());
    std::exit(2);
  }
  return v * scale;
}

long long parse_int(const std::string& text, const char* what, long long min) {
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (end == text.c_str() || *end != '\0' || v < min) {
    std::fprintf(stderr, "latchkey_loadgen: bad %s: %s\n", what, text.c_str());
    std::exit(2);
  }
  return v;
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      auto eq = a.find('=');
      if (eq != std::string::npos) return a.substr(eq + 1);
      if (i + 1 >= argc) {
        std::fprintf(stderr, "latchkey_loadgen: %s needs a value\n", a.c_str());
        std::exit(2);
      }
      return argv[++i];
    };
    std::string name = a.substr(0, a.find('='));
    if (name == "--help" || name == "-h")
      usage(0);
    else if (name == "--scenario") {
      std::string v = value();
      if (v == "register")
        o.scenario = Scenario::kRegister;
      else if (v == "lock")
        o.scenario = Scenario::kLock;
      else if (v == "restore")
        o.scenario = Scenario::kRestore;
      else {
        std::fprintf(stderr, "latchkey_loadgen: bad --scenario: %s (register, lock or restore)\n", v.c_str());
        std::exit(2);
      }
    } else if (name == "--host")
      o.host = value();
    else if (name == "--port")
      o.port = value();
    else if (name == "--outbox")
      o.outbox = value();
    else if (name == "--concurrency")
      o.concurrency = static_cast<int>(parse_int(value(), "--concurrency", 1));
    else if (name == "--threads")
      o.threads = static_cast<int>(parse_int(value(), "--threads", 1));
    else if (name == "--duration")
      o.duration_s = parse_seconds(value(), "--duration");
    else if (name == "--warmup")
      o.warmup_s = parse_seconds(value(), "--warmup");
    else if (name == "--rate") {
      std::string v = value();
      char* end = nullptr;
      o.rate = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end != '\0' || !(o.rate >= 0) || !std::isfinite(o.rate)) {
        std::fprintf(stderr, "latchkey_loadgen: bad --rate: %s\n", v.c_str());
        std::exit(2);
      }
    } else if (name == "--max-registrations")
      o.max_registrations = static_cast<std::uint64_t>(parse_int(value(), "--max-registrations", 1));
    else if (name == "--timeout")
      o.timeout_s = parse_seconds(value(), "--timeout");
    else if (name == "--outbox-wait")
      o.outbox_wait_s = parse_seconds(value(), "--outbox-wait");
    else if (name == "--give-up")
      o.give_up_s = parse_seconds(value(), "--give-up");
    else if (name == "--requests-per-connection")
      o.requests_per_connection =
          static_cast<std::uint64_t>(parse_int(value(), "--requests-per-connection", 0));
    else if (name == "--seed")
      o.seed = static_cast<std::uint64_t>(parse_int(value(), "--seed", 0));
    else if (name == "--json")
      o.json = true;
    else if (name == "--json-out")
      o.json_out = value();
    else if (name == "--error-samples")
      o.max_error_samples = static_cast<int>(parse_int(value(), "--error-samples", 0));
    else {
      std::fprintf(stderr, "latchkey_loadgen: unknown option %s\n", a.c_str());
      usage(2);
    }
  }
  if (o.outbox.empty()) {
    std::fprintf(stderr, "latchkey_loadgen: --outbox PATH is required (the codes are read from it)\n");
    usage(2);
  }
  if (o.duration_s <= 0) {
    std::fprintf(stderr, "latchkey_loadgen: --duration must be > 0\n");
    std::exit(2);
  }
  if (o.timeout_s <= 0) o.timeout_s = 10;
  return o;
}

// --------------------------------------------------------------------------------------------------------
// Small encoders and the proof of work

using latchkey::base64_decode;
using latchkey::base64_encode;
using latchkey::base64url_decode;
using latchkey::hex_encode;

// The server's own solver (crypto/proof_of_work.h); `hashes` counts the attempts it took.
std::optional<std::string> solve_pow(const std::string& challenge, int bits, Clock::time_point /*deadline*/,
                                     std::uint64_t* hashes) {
  auto nonce = latchkey::solve_proof_of_work(challenge, bits, 1ULL << std::min(bits + 8, 40));
  if (nonce) *hashes += std::stoull(*nonce) + 1;
  return nonce;
}

// The first run of exactly six ASCII digits in `body`.
std::optional<std::string> find_code(std::string_view body) {
  std::size_t i = 0;
  while (i < body.size()) {
    if (body[i] >= '0' && body[i] <= '9') {
      std::size_t j = i;
      while (j < body.size() && body[j] >= '0' && body[j] <= '9') ++j;
      if (j - i == 6) return std::string(body.substr(i, 6));
      i = j;
    } else {
      ++i;
    }
  }
  return std::nullopt;
}

// --------------------------------------------------------------------------------------------------------
// Outbox reader: shared by every client, guarded by a mutex (the io_context may run on several threads).

class Outbox {
 public:
  explicit Outbox(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    // Old lines are of no use: start at the current end of the file.
    if (fd_ >= 0) offset_ = ::lseek(fd_, 0, SEEK_END);
    if (offset_ < 0) offset_ = 0;
  }
  ~Outbox() {
    if (fd_ >= 0) ::close(fd_);
  }
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  bool exists_at_start() const { return fd_ >= 0; }

  // The code last sent to `number`, removed from the index; reads new lines when it is not indexed yet.
  std::optional<std::string> take(const std::string& number) {
    std::lock_guard lock(mutex_);
    auto it = codes_.find(number);
    if (it == codes_.end()) {
      drain();
      it = codes_.find(number);
      if (it == codes_.end()) return std::nullopt;
    }
    std::string code = std::move(it->second);
    codes_.erase(it);
    return code;
  }

  // Drops a code indexed for `number` but never taken (a flow that ended early), so that take() cannot hand
  // it out for a later session of the same number. Reads nothing: lines still unread are applied in file
  // order, so the newest code for a number always wins.
  void forget(const std::string& number) {
    std::lock_guard lock(mutex_);
    codes_.erase(number);
  }

  std::uint64_t lines() const { return lines_.load(); }
  std::uint64_t bad_lines() const { return bad_lines_.load(); }

 private:
  void drain() {
    if (fd_ < 0) {
      fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd_ < 0) return;
      offset_ = 0;  // created after we started: every line is new
    }
    char buf[1 << 16];
    for (;;) {
      ssize_t n = ::pread(fd_, buf, sizeof buf, offset_);
      if (n <= 0) break;
      offset_ += n;
      partial_.append(buf, static_cast<std::size_t>(n));
      if (static_cast<std::size_t>(n) < sizeof buf) break;
    }
    std::size_t start = 0;
    for (;;) {
      std::size_t nl = partial_.find('\n', start);
      if (nl == std::string::npos) break;
      parse_line(std::string_view(partial_).substr(start, nl - start));
      start = nl + 1;
    }
    partial_.erase(0, start);
  }

  void parse_line(std::string_view line) {
    if (line.empty()) return;
    ++lines_;
    json j = json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("to") || !j["to"].is_string() || !j.contains("body") ||
        !j["body"].is_string()) {
      ++bad_lines_;
      return;
    }
    auto code = find_code(j["body"].get_ref<const std::string&>());
    if (!code) {
      ++bad_lines_;
      return;
    }
    codes_[j["to"].get<std::string>()] = std::move(*code);
  }

  std::string path_;
  int fd_ = -1;
  off_t offset_ = 0;
  std::string partial_;
  std::unordered_map<std::string, std::string> codes_;
  std::mutex mutex_;
  std::atomic<std::uint64_t> lines_{0};
  std::atomic<std::uint64_t> bad_lines_{0};
};

// --------------------------------------------------------------------------------------------------------
// Statistics

// kSetup only counts errors: the lock and restore scenarios' per-client setup (a registration, the lock, the
// backup) is not timed.
enum Step {
  kSession = 0,
  kPow,
  kCodeSend,
  kVerify,
  kRegister,
  kRegister423,
  kRestore,
  kRegisterWithLock,
  kFlow,
  kSetup,
  kStepCount
};
constexpr const char* kStepNames[kStepCount] = {"session",  "pow",          "code_send", "verify",
                                                "register", "register_423", "restore",   "register_with_lock",
                                                "flow",     "setup"};

// The steps each scenario reports, in order.
std::vector<Step> scenario_steps(Scenario s) {
  switch (s) {
    case Scenario::kLock:
      return {kSession, kPow, kCodeSend, kVerify, kRegister423, kRestore, kRegisterWithLock, kFlow, kSetup};
    case Scenario::kRestore:
      return {kRestore, kSetup};
    case Scenario::kRegister:
      break;
  }
  return {kSession, kPow, kCodeSend, kVerify, kRegister, kFlow};
}

constexpr int kBackupMaxTries = 10;

struct ClientStats {
  std::vector<std::uint32_t> latency_us[kStepCount];  // measured window only
  std::uint64_t errors[kStepCount] = {};              // measured window only
  std::uint64_t warmup_errors = 0;
  std::uint64_t completed = 0;  // iterations (registrations, locked re-registrations, restores) in the window
  std::uint64_t warmup_completed = 0;
  std::uint64_t aborted = 0;  // flows cut short by the end of the run
  std::uint64_t pow_hashes = 0;
  std::uint64_t pow_solve_us = 0;
  std::uint64_t pow_solved = 0;
  std::uint64_t connects = 0;
  std::uint64_t outbox_retries = 0;
};

struct Shared {
  Options opt;
  tcp::endpoint endpoint;
  Outbox* outbox = nullptr;
  Clock::time_point t0, measure_start, end;
  std::atomic<std::uint64_t> next_ticket{0};
  std::atomic<std::uint64_t> next_number{0};
  std::uint64_t number_base = 0;
  std::uint64_t seed = 0;
  std::mutex samples_mutex;
  std::vector<std::string> error_samples;
  std::atomic<std::uint64_t> total_errors{0};
  std::atomic<bool> finish_logged{false};
  std::atomic<std::int64_t> last_completion_ns{0};
  std::atomic<std::int64_t> last_response_ns{0};  // any HTTP answer, since t0
  std::atomic<bool> unreachable{false};           // connects kept failing: the run was stopped early
};

// French mobile numbers accepted by libphonenumber: +33 6 then two digits, 60-62 and 64-68 are valid with any
// six further digits, so the number space is 8 * 10^7 and a run takes a window of it from a random base.
constexpr std::uint64_t kNumberSpace = 80'000'000;
std::string make_number(std::uint64_t index) {
  static constexpr char kSecond[8] = {'0', '1', '2', '4', '5', '6', '7', '8'};
  index %= kNumberSpace;
  char buf[20];
  std::snprintf(buf, sizeof buf, "+336%c%07llu", kSecond[index / 10'000'000],
                static_cast<unsigned long long>(index % 10'000'000));
  return buf;
}

// Request bodies, built outside the coroutines (g++ 12 rejects braced string-literal initializers in them).
std::string session_body(const std::string& number) { return json{{"number", number}}.dump(); }
std::string pow_body(const std::string& nonce) { return json{{"proofOfWork", {{"nonce", nonce}}}}.dump(); }
std::string code_body(const std::string& code) { return json{{"code", code}}.dump(); }
std::string registration_body(const std::string& session_id, int registration_id,
                              const std::string& registration_lock = std::string()) {
  json attributes = {{"registrationId", registration_id}};
  if (!registration_lock.empty()) attributes["registrationLock"] = registration_lock;
  return json{{"sessionId", session_id}, {"accountAttributes", attributes}}.dump();
}
std::string lock_body(const std::string& token) { return json{{"registrationLock", token}}.dump(); }
std::string backup_body(const std::string& access_key, const std::string& data) {
  return json{{"accessKey", access_key}, {"data", data}, {"maxTries", kBackupMaxTries}}.dump();
}
std::string data_body(const std::string& data) { return json{{"data", data}}.dump(); }
std::string restore_body(const std::string& access_key) { return json{{"accessKey", access_key}}.dump(); }
std::string basic_auth(const std::string& username, const std::string& password) {
  return "Basic " + base64_encode(username + ":" + password);
}

// backupCredentials {username, password} from a 423 answer's body.
std::optional<std::pair<std::string, std::string>> backup_credentials(const std::string& body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  auto error = j.find("error");
  if (error == j.end() || !error->is_string() ||
      error->get_ref<const std::string&>() != "registration_locked")
    return std::nullopt;
  auto it = j.find("backupCredentials");
  if (it == j.end() || !it->is_object()) return std::nullopt;
  auto user = it->find("username");
  auto pass = it->find("password");
  if (user == it->end() || pass == it->end() || !user->is_string() || !pass->is_string()) return std::nullopt;
  return std::make_pair(user->get<std::string>(), pass->get<std::string>());
}

// Empty when a restore answer carries `data` (base64 of the same bytes as `expected_data`) and the reset
// tries; otherwise what is wrong with it.
std::string restore_answer_problem(const std::string& body, const std::string& expected_data) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return "unparsable restore answer: " + body;
  auto data = j.find("data");
  if (data == j.end() || !data->is_string()) return "no data in the restore answer: " + body;
  auto got = base64_decode(data->get_ref<const std::string&>());
  if (!got || got != base64_decode(expected_data))
    return "restored data differs from the stored backup: " + body;
  auto tries = j.find("triesRemaining");
  if (tries == j.end() || !tries->is_number_integer() || tries->get<int>() != kBackupMaxTries)
    return "triesRemaining is not " + std::to_string(kBackupMaxTries) + ": " + body;
  return std::string();
}

// The uuid of a 200 registration answer; empty when it has none.
std::string registered_uuid(const std::string& body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || !j.contains("uuid") || !j["uuid"].is_string()) return std::string();
  return j["uuid"].get<std::string>();
}

// --------------------------------------------------------------------------------------------------------
// One virtual client

struct HttpResult {
  beast::error_code ec;
  int status = 0;
  std::string body;
  std::uint32_t latency_us = 0;
};

// GCC 12 may report -Wmismatched-new-delete at the end of a coroutine (here verified_session): it pairs the
// frame's class-specific operator delete in Asio's awaitable_frame_base with the ::operator new that Asio's
// recycling allocator calls inside the matching class-specific operator new. A false positive.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
class Client {
 public:
  Client(net::any_io_executor ex, Shared& shared, int index)
      : ex_(ex),
        shared_(shared),
        stream_(ex),
        rng_(shared.seed * 1'000'003ULL + static_cast<std::uint64_t>(index)) {}

  ClientStats& stats() { return stats_; }

  net::awaitable<void> run() {
    const Options& opt = shared_.opt;
    net::steady_timer pace(ex_);
    for (;;) {
      if (Clock::now() >= shared_.end) break;
      std::uint64_t ticket = shared_.next_ticket.fetch_add(1);
      if (opt.max_registrations && ticket >= opt.max_registrations) break;
      if (opt.rate > 0) {
        auto when = shared_.t0 + std::chrono::duration_cast<Clock::duration>(
                                     std::chrono::duration<double>(static_cast<double>(ticket) / opt.rate));
        if (when >= shared_.end) break;
        if (when > Clock::now()) {
          pace.expires_at(when);
          beast::error_code ec;
          co_await pace.async_wait(net::redirect_error(net::use_awaitable, ec));
        }
      }
      co_await one_iteration();
      if (last_transport_error_) {
        // Do not spin on a dead or restarting server: back off, and stop the whole run when no answer at all
        // came for --give-up seconds while connections fail.
        last_transport_error_ = false;
        auto silent = Clock::now() - (shared_.t0 + std::chrono::nanoseconds(shared_.last_response_ns.load()));
        if (!connected_ && silent > std::chrono::duration<double>(opt.give_up_s)) {
          if (!shared_.unreachable.exchange(true))
            std::fprintf(
                stderr,
                "latchkey_loadgen: no answer from the server for %.1fs while connections fail; stopping\n",
                opt.give_up_s);
        }
        if (shared_.unreachable.load()) break;
        pace.expires_after(std::chrono::milliseconds(100));
        beast::error_code ec;
        co_await pace.async_wait(net::redirect_error(net::use_awaitable, ec));
      }
      if (shared_.unreachable.load()) break;
    }
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

 private:
  bool measured(Clock::time_point t) const { return t >= shared_.measure_start; }

  void record(Step step, Clock::time_point started, std::uint32_t us) {
    if (measured(started) && !setup_) stats_.latency_us[step].push_back(us);
  }

  void error(Step step, Clock::time_point when, std::string what) {
    if (setup_ && step != kSetup) {
      what = std::string(kStepNames[step]) + ": " + what;
      step = kSetup;
    }
    if (measured(when))
      ++stats_.errors[step];
    else
      ++stats_.warmup_errors;
    std::uint64_t n = shared_.total_errors.fetch_add(1);
    if (n < static_cast<std::uint64_t>(shared_.opt.max_error_samples)) {
      std::string line = std::string(kStepNames[step]) + ": " + what;
      if (line.size() > 600) line.resize(600);
      std::fprintf(stderr, "latchkey_loadgen: error #%llu %s\n", static_cast<unsigned long long>(n + 1),
                   line.c_str());
      std::lock_guard lock(shared_.samples_mutex);
      shared_.error_samples.push_back(std::move(line));
    }
  }

  static std::string describe(const HttpResult& r) {
    if (r.ec) return "transport error: " + r.ec.message();
    return "HTTP " + std::to_string(r.status) + " " + r.body;
  }

  net::awaitable<HttpResult> request(http::verb verb, std::string target, std::string body,
                                     const std::string* authorization = nullptr) {
    HttpResult result;
    auto started = Clock::now();
    auto timeout =
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(shared_.opt.timeout_s));
    if (!connected_) {
      stream_.expires_after(timeout);
      co_await stream_.async_connect(shared_.endpoint, net::redirect_error(net::use_awaitable, result.ec));
      if (result.ec) {
        stream_.close();
        last_transport_error_ = true;
        co_return result;
      }
      stream_.socket().set_option(tcp::no_delay(true), result.ec);
      result.ec = {};
      connected_ = true;
      connection_requests_ = 0;
      ++stats_.connects;
    }
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, host_header());
    req.set(http::field::user_agent, "latchkey_loadgen");
    if (authorization) req.set(http::field::authorization, *authorization);
    if (verb != http::verb::get) {
      req.set(http::field::content_type, "application/json");
      req.body() = std::move(body);
    }
    req.keep_alive(true);
    req.prepare_payload();

    stream_.expires_after(timeout);
    co_await http::async_write(stream_, req, net::redirect_error(net::use_awaitable, result.ec));
    if (!result.ec) {
      http::response<http::string_body> res;
      co_await http::async_read(stream_, buffer_, res, net::redirect_error(net::use_awaitable, result.ec));
      if (!result.ec) {
        result.status = static_cast<int>(res.result_int());
        result.body = std::move(res.body());
        if (!res.keep_alive() || (shared_.opt.requests_per_connection &&
                                  ++connection_requests_ >= shared_.opt.requests_per_connection))
          drop_connection();
      }
    }
    if (result.ec) {
      drop_connection();
      last_transport_error_ = true;
    } else {
      shared_.last_response_ns.store(
          std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - shared_.t0).count());
    }
    result.latency_us = static_cast<std::uint32_t>(std::min<std::int64_t>(
        std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - started).count(), UINT32_MAX));
    co_return result;
  }

  void drop_connection() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    buffer_.consume(buffer_.size());
    connected_ = false;
  }

  const std::string& host_header() {
    if (host_.empty()) host_ = shared_.opt.host + ":" + shared_.opt.port;
    return host_;
  }

  // Parses a 200 session answer; nullopt (and an error) otherwise.
  std::optional<json> session_answer(Step step, Clock::time_point started, const HttpResult& r) {
    if (r.ec || r.status != 200) {
      error(step, started, describe(r));
      return std::nullopt;
    }
    json j = json::parse(r.body, nullptr, false);
    if (!j.is_object() || !j.contains("id") || !j["id"].is_string()) {
      error(step, started, "unparsable session: " + r.body);
      return std::nullopt;
    }
    return j;
  }

  std::string random_password() {
    static constexpr char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::uniform_int_distribution<int> pick(0, 61);
    std::string p(24, 'x');
    for (char& c : p) c = kChars[pick(rng_)];
    return p;
  }

  bool out_of_time() const { return Clock::now() >= shared_.end; }

  std::string next_number() { return make_number(shared_.number_base + shared_.next_number.fetch_add(1)); }

  std::string random_bytes(std::size_t n) {
    std::string bytes(n, '\0');
    for (char& c : bytes) c = static_cast<char>(rng_() & 0xff);
    return bytes;
  }

  bool abort_flow() {
    ++stats_.aborted;
    return false;
  }

  net::awaitable<void> one_iteration() {
    switch (shared_.opt.scenario) {
      case Scenario::kLock:
        co_await one_locked_reregistration();
        break;
      case Scenario::kRestore:
        co_await one_restore();
        break;
      case Scenario::kRegister:
        co_await one_registration();
        break;
    }
  }

  // Steps 1-4 of every registration: a session for `number`, the gate, an SMS code, its check. True with the
  // verified session's id in *session_id; false when a step failed (an error is recorded) or the run ended
  // (aborted).
  net::awaitable<bool> verified_session(std::string number, std::string* session_id) {
    // 1. Session.
    auto t = Clock::now();
    HttpResult r =
        co_await request(http::verb::post, std::string("/v1/verification/session"), session_body(number));
    auto session = session_answer(kSession, t, r);
    if (!session) co_return false;
    record(kSession, t, r.latency_us);
    const std::string id = (*session)["id"].get<std::string>();
    const std::string session_path = "/v1/verification/session/" + id;

    // 2. Proof of work, when the gate asks for it.
    bool pow_requested = false;
    if (session->contains("requestedInformation") && (*session)["requestedInformation"].is_array()) {
      for (const auto& item : (*session)["requestedInformation"])
        if (item.is_string() && item.get_ref<const std::string&>() == "proofOfWork") pow_requested = true;
    }
    if (pow_requested) {
      if (out_of_time()) co_return abort_flow();
      const json& pow = (*session)["proofOfWork"];
      std::optional<std::string> challenge;
      int bits = -1;
      if (pow.is_object() && pow.contains("challenge") && pow["challenge"].is_string() &&
          pow.contains("bits") && pow["bits"].is_number_integer()) {
        challenge = base64url_decode(pow["challenge"].get_ref<const std::string&>());
        bits = pow["bits"].get<int>();
      }
      if (!challenge || bits < 0 || bits > 64) {
        error(kPow, t, "bad proofOfWork object in " + session->dump());
        co_return false;
      }
      auto solve_started = Clock::now();
      auto nonce = solve_pow(*challenge, bits, shared_.end, &stats_.pow_hashes);
      if (!nonce) co_return abort_flow();  // ran out of time
      stats_.pow_solve_us += static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - solve_started).count());
      ++stats_.pow_solved;
      t = Clock::now();
      r = co_await request(http::verb::patch, session_path, pow_body(*nonce));
      auto patched = session_answer(kPow, t, r);
      if (!patched) co_return false;
      if (!(*patched).value("allowedToRequestCode", false)) {
        error(kPow, t, "gate not passed: " + r.body);
        co_return false;
      }
      record(kPow, t, r.latency_us);
    }

    // 3. Ask for an SMS. A code of an earlier session of this number that was never read must not be taken
    // for this one's.
    if (out_of_time()) co_return abort_flow();
    shared_.outbox->forget(number);
    t = Clock::now();
    r = co_await request(http::verb::post, session_path + "/code", std::string(R"({"transport":"sms"})"));
    if (!session_answer(kCodeSend, t, r)) co_return false;
    record(kCodeSend, t, r.latency_us);

    // 4. Read the code from the outbox (written before the 200) and verify it.
    std::optional<std::string> code = shared_.outbox->take(number);
    if (!code) {
      // Should not happen with the outbox contract; tolerate a slow file system briefly.
      auto give_up = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(shared_.opt.outbox_wait_s));
      net::steady_timer wait(ex_);
      while (!code && Clock::now() < give_up) {
        ++stats_.outbox_retries;
        wait.expires_after(std::chrono::milliseconds(2));
        beast::error_code ec;
        co_await wait.async_wait(net::redirect_error(net::use_awaitable, ec));
        code = shared_.outbox->take(number);
      }
      if (!code) {
        error(kCodeSend, t, "no code for " + number + " in the outbox " + shared_.opt.outbox);
        co_return false;
      }
    }
    if (out_of_time()) co_return abort_flow();
    t = Clock::now();
    r = co_await request(http::verb::put, session_path + "/code", code_body(*code));
    auto verified = session_answer(kVerify, t, r);
    if (!verified) co_return false;
    if (!(*verified).value("verified", false)) {
      error(kVerify, t, "not verified: " + r.body);
      co_return false;
    }
    record(kVerify, t, r.latency_us);
    *session_id = id;
    co_return true;
  }

  // Counts a finished iteration that started at `flow_started`: in the window, in the warmup, or (finished
  // after the end) as aborted.
  void complete(Clock::time_point flow_started) {
    auto done = Clock::now();
    if (done <= shared_.end) {
      if (measured(flow_started)) {
        stats_.latency_us[kFlow].push_back(static_cast<std::uint32_t>(
            std::chrono::duration_cast<std::chrono::microseconds>(done - flow_started).count()));
      }
      if (measured(done))
        ++stats_.completed;
      else
        ++stats_.warmup_completed;
      std::int64_t ns = std::chrono::duration_cast<std::chrono::nanoseconds>(done - shared_.t0).count();
      std::int64_t prev = shared_.last_completion_ns.load();
      while (prev < ns && !shared_.last_completion_ns.compare_exchange_weak(prev, ns)) {
      }
    } else {
      ++stats_.aborted;  // completed after the window: neither counted nor an error
    }
  }

  // Scenario "register": one complete registration of a fresh number.
  net::awaitable<void> one_registration() {
    const auto flow_started = Clock::now();
    const std::string number = next_number();
    std::string id;
    const bool verified = co_await verified_session(number, &id);
    if (!verified) co_return;

    // 5. Register.
    if (out_of_time()) {
      ++stats_.aborted;
      co_return;
    }
    std::uniform_int_distribution<int> reg_id(1, 16383);
    const std::string authorization = basic_auth(number, random_password());
    const std::string body = registration_body(id, reg_id(rng_));
    auto t = Clock::now();
    HttpResult r = co_await request(http::verb::post, std::string("/v1/registration"), body, &authorization);
    if (r.ec || r.status != 200) {
      error(kRegister, t, describe(r));
      co_return;
    }
    if (registered_uuid(r.body).empty()) {
      error(kRegister, t, "unparsable registration answer: " + r.body);
      co_return;
    }
    record(kRegister, t, r.latency_us);
    complete(flow_started);
  }

  // Scenarios "lock" and "restore": register a fresh number, turn Registration Lock on, store and expose a
  // backup. Not timed; errors count under "setup". True when the account is ready in locked_.
  net::awaitable<bool> set_up_locked_account() {
    setup_ = true;
    bool ready = co_await set_up_locked_account_steps();
    setup_ = false;
    co_return ready;
  }

  net::awaitable<bool> set_up_locked_account_steps() {
    std::uniform_int_distribution<int> reg_id(1, 16383);
    for (int attempt = 0; attempt < 3; ++attempt) {
      if (out_of_time()) {
        ++stats_.aborted;
        co_return false;
      }
      LockedAccount a;
      a.number = next_number();
      std::string id;
      const bool verified = co_await verified_session(a.number, &id);
      if (!verified) co_return false;
      a.password = random_password();
      const std::string number_auth = basic_auth(a.number, a.password);
      auto t = Clock::now();
      HttpResult r = co_await request(http::verb::post, std::string("/v1/registration"),
                                      registration_body(id, reg_id(rng_)), &number_auth);
      // 202: an earlier run registered this number (the windows of numbers overlapped); take another one.
      if (!r.ec && r.status == 202) continue;
      if (r.ec || r.status != 200) {
        error(kRegister, t, describe(r));
        co_return false;
      }
      a.uuid = registered_uuid(r.body);
      if (a.uuid.empty()) {
        error(kRegister, t, "unparsable registration answer: " + r.body);
        co_return false;
      }
      a.token = hex_encode(random_bytes(32));
      a.access_key = base64_encode(random_bytes(32));
      a.data = base64_encode(random_bytes(32));
      const std::string device_auth = basic_auth(a.uuid + ".1", a.password);

      t = Clock::now();
      r = co_await request(http::verb::put, std::string("/v1/accounts/registration_lock"), lock_body(a.token),
                           &device_auth);
      if (r.ec || r.status != 204) {
        error(kSetup, t, "PUT /v1/accounts/registration_lock: " + describe(r));
        co_return false;
      }
      t = Clock::now();
      r = co_await request(http::verb::put, std::string("/v1/backup"), backup_body(a.access_key, a.data),
                           &device_auth);
      if (r.ec || r.status != 204) {
        error(kSetup, t, "PUT /v1/backup: " + describe(r));
        co_return false;
      }
      t = Clock::now();
      r = co_await request(http::verb::post, std::string("/v1/backup/expose"), data_body(a.data),
                           &device_auth);
      if (r.ec || r.status != 204) {
        error(kSetup, t, "POST /v1/backup/expose: " + describe(r));
        co_return false;
      }
      locked_ = std::move(a);
      co_return true;
    }
    error(kSetup, Clock::now(), "three fresh numbers in a row belonged to active accounts (202)");
    co_return false;
  }

  // Scenario "lock": one locked re-registration of this client's number (its account set up first).
  net::awaitable<void> one_locked_reregistration() {
    if (!locked_) {
      bool ready = co_await set_up_locked_account();
      if (!ready) co_return;
    }
    LockedAccount& a = *locked_;
    const auto flow_started = Clock::now();
    std::string id;
    const bool verified = co_await verified_session(a.number, &id);
    if (!verified) co_return;

    // 5. Register without the token: 423 with backup credentials. It leaves the session usable.
    if (out_of_time()) {
      ++stats_.aborted;
      co_return;
    }
    std::uniform_int_distribution<int> reg_id(1, 16383);
    const std::string new_password = random_password();
    const std::string number_auth = basic_auth(a.number, new_password);
    auto t = Clock::now();
    HttpResult r = co_await request(http::verb::post, std::string("/v1/registration"),
                                    registration_body(id, reg_id(rng_)), &number_auth);
    if (r.ec || r.status != 423) {
      error(kRegister423, t, "expected 423: " + describe(r));
      co_return;
    }
    auto credentials = backup_credentials(r.body);
    if (!credentials) {
      error(kRegister423, t, "no backupCredentials in the 423: " + r.body);
      co_return;
    }
    record(kRegister423, t, r.latency_us);

    // 6. Restore the backup with the backup credentials (the PIN's access key).
    if (out_of_time()) {
      ++stats_.aborted;
      co_return;
    }
    const std::string backup_auth = basic_auth(credentials->first, credentials->second);
    if (!co_await timed_restore(a.access_key, a.data, backup_auth, Clock::now())) co_return;

    // 7. Register again on the same session with the token: 200 at once (the lock passed: no takeover delay).
    if (out_of_time()) {
      ++stats_.aborted;
      co_return;
    }
    t = Clock::now();
    r = co_await request(http::verb::post, std::string("/v1/registration"),
                         registration_body(id, reg_id(rng_), a.token), &number_auth);
    if (r.ec || r.status != 200) {
      error(kRegisterWithLock, t, describe(r));
      co_return;
    }
    std::string uuid = registered_uuid(r.body);
    if (uuid != a.uuid) {
      error(kRegisterWithLock, t, "expected the account " + a.uuid + " to keep its uuid: " + r.body);
      co_return;
    }
    record(kRegisterWithLock, t, r.latency_us);
    a.password = new_password;  // the old device is gone; this is the account's device 1 now
    complete(flow_started);
  }

  // Scenario "restore": one backup restore with the device's credentials (the account set up first).
  net::awaitable<void> one_restore() {
    if (!locked_) {
      bool ready = co_await set_up_locked_account();
      if (!ready) co_return;
    }
    LockedAccount& a = *locked_;
    if (a.device_auth.empty()) a.device_auth = basic_auth(a.uuid + ".1", a.password);
    const auto t = Clock::now();
    if (co_await timed_restore(a.access_key, a.data, a.device_auth, t)) complete(t);
  }

  // One backup restore with `auth`, timed from `t` as step "restore"; answers whether it succeeded.
  net::awaitable<bool> timed_restore(const std::string& access_key, const std::string& data, const std::string& auth,
                                     Clock::time_point t) {
    HttpResult r = co_await request(http::verb::post, std::string("/v1/backup/restore"), restore_body(access_key),
                                    &auth);
    if (r.ec || r.status != 200) {
      error(kRestore, t, describe(r));
      co_return false;
    }
    const std::string problem = restore_answer_problem(r.body, data);
    if (!problem.empty()) {
      error(kRestore, t, problem);
      co_return false;
    }
    record(kRestore, t, r.latency_us);
    co_return true;
  }

  // The account a lock or restore client works on.
  struct LockedAccount {
    std::string number, uuid, password;
    std::string token;       // Registration Lock token, 64 hex
    std::string access_key;  // base64 of 32 bytes
    std::string data;        // base64 of 32 bytes: the backup
    std::string device_auth;
  };
  net::any_io_executor ex_;
  Shared& shared_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  bool connected_ = false;
  bool last_transport_error_ = false;
  std::uint64_t connection_requests_ = 0;
  std::string host_;
  std::mt19937_64 rng_;
  ClientStats stats_;
  bool setup_ = false;  // inside set_up_locked_account(): latencies are not recorded, errors count as "setup"
  std::optional<LockedAccount> locked_;
};
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// --------------------------------------------------------------------------------------------------------
// Report

struct Summary {
  std::uint64_t count = 0, errors = 0;
  double p50 = 0, p90 = 0, p99 = 0, max = 0, mean = 0;
};

Summary summarize(std::vector<std::uint32_t>& v, std::uint64_t errors) {
  Summary s;
  s.count = v.size();
  s.errors = errors;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) {
    // Nearest rank.
    std::size_t rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
    if (rank < 1) rank = 1;
    return v[std::min(rank, v.size()) - 1] / 1000.0;
  };
  s.p50 = pct(50);
  s.p90 = pct(90);
  s.p99 = pct(99);
  s.max = v.back() / 1000.0;
  double sum = 0;
  for (auto x : v) sum += x;
  s.mean = sum / static_cast<double>(v.size()) / 1000.0;
  return s;
}

double round3(double v) { return std::round(v * 1000.0) / 1000.0; }

}  // namespace

int main(int argc, char** argv) {
  Options opt = parse_options(argc, argv);
  if (!latchkey::initialize_crypto()) {
    std::fprintf(stderr, "latchkey_loadgen: libsodium failed to initialise\n");
    return 2;
  }

  Shared shared;
  shared.opt = opt;
  std::random_device rd;
  shared.seed = opt.seed ? opt.seed
                         : (static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^
                               static_cast<std::uint64_t>(Clock::now().time_since_epoch().count());
  shared.number_base = std::mt19937_64(shared.seed)() % kNumberSpace;

  {
    net::io_context resolve_ctx;
    tcp::resolver resolver(resolve_ctx);
    beast::error_code ec;
    auto results = resolver.resolve(opt.host, opt.port, ec);
    if (ec || results.empty()) {
      std::fprintf(stderr, "latchkey_loadgen: cannot resolve %s:%s: %s\n", opt.host.c_str(), opt.port.c_str(),
                   ec.message().c_str());
      return 2;
    }
    shared.endpoint = results.begin()->endpoint();
  }

  Outbox outbox(opt.outbox);
  if (!outbox.exists_at_start())
    std::fprintf(stderr, "latchkey_loadgen: note: %s does not exist yet; it will be read once created\n",
                 opt.outbox.c_str());
  shared.outbox = &outbox;

  net::io_context ioc(opt.threads);
  std::vector<std::unique_ptr<Client>> clients;
  clients.reserve(static_cast<std::size_t>(opt.concurrency));

  auto to_dur = [](double s) {
    return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
  };
  shared.t0 = Clock::now();
  shared.measure_start = shared.t0 + to_dur(opt.warmup_s);
  shared.end = shared.measure_start + to_dur(opt.duration_s);

  for (int i = 0; i < opt.concurrency; ++i) {
    net::any_io_executor ex = opt.threads > 1 ? net::any_io_executor(net::make_strand(ioc))
                                              : net::any_io_executor(ioc.get_executor());
    clients.push_back(std::make_unique<Client>(ex, shared, i));
    net::co_spawn(ex, clients.back()->run(), net::detached);
  }

  std::vector<std::thread> threads;
  for (int i = 1; i < opt.threads; ++i) threads.emplace_back([&] { ioc.run(); });
  ioc.run();
  for (auto& th : threads) th.join();
  const auto finished = Clock::now();

  // Merge.
  ClientStats all;
  for (auto& c : clients) {
    ClientStats& s = c->stats();
    for (int k = 0; k < kStepCount; ++k) {
      all.latency_us[k].insert(all.latency_us[k].end(), s.latency_us[k].begin(), s.latency_us[k].end());
      all.errors[k] += s.errors[k];
    }
    all.warmup_errors += s.warmup_errors;
    all.completed += s.completed;
    all.warmup_completed += s.warmup_completed;
    all.aborted += s.aborted;
    all.pow_hashes += s.pow_hashes;
    all.pow_solve_us += s.pow_solve_us;
    all.pow_solved += s.pow_solved;
    all.connects += s.connects;
    all.outbox_retries += s.outbox_retries;
  }
  std::uint64_t errors = 0;
  for (int k = 0; k < kStepCount; ++k) errors += all.errors[k];

  // The measured window ends at --duration, or earlier when --max-registrations ran out first.
  // (or the server stopped answering).
  auto window_end = shared.end;
  if (finished < shared.end) {
    window_end = std::max(shared.measure_start, finished);
    if (opt.max_registrations && !shared.unreachable.load()) {
      auto last = shared.t0 + std::chrono::nanoseconds(shared.last_completion_ns.load());
      window_end = std::max(shared.measure_start, std::min(finished, last));
    }
  }
  double window_s = std::chrono::duration<double>(window_end - shared.measure_start).count();
  double per_second = window_s > 0 ? static_cast<double>(all.completed) / window_s : 0.0;
  if (all.completed == 0 && opt.max_registrations && window_s <= 0 && all.warmup_completed > 0)
    std::fprintf(stderr, "latchkey_loadgen: note: every flow finished during the warmup\n");

  Summary sums[kStepCount];
  for (int k = 0; k < kStepCount; ++k) sums[k] = summarize(all.latency_us[k], all.errors[k]);
  // The scenario's steps, and any other step that has errors (none should).
  std::vector<Step> shown = scenario_steps(opt.scenario);
  for (int k = 0; k < kStepCount; ++k)
    if (all.errors[k] && std::find(shown.begin(), shown.end(), static_cast<Step>(k)) == shown.end())
      shown.push_back(static_cast<Step>(k));
  const char* unit = scenario_unit(opt.scenario);

  // Human table.
  FILE* table = opt.json ? stderr : stdout;
  char rate_text[48] = "max";
  if (opt.rate > 0) std::snprintf(rate_text, sizeof rate_text, "%.1f/s target", opt.rate);
  std::fprintf(table,
               "latchkey_loadgen: scenario %s, %s:%s, %d clients, %d thread(s), warmup %.1fs, measured "
               "%.2fs, rate %s\n",
               scenario_name(opt.scenario), opt.host.c_str(), opt.port.c_str(), opt.concurrency, opt.threads,
               opt.warmup_s, window_s, rate_text);
  std::fprintf(table,
               "%s: %llu completed = %.1f/s, errors %llu (warmup: %llu completed, %llu errors), "
               "aborted at end %llu, connects %llu\n",
               unit, static_cast<unsigned long long>(all.completed), per_second,
               static_cast<unsigned long long>(errors), static_cast<unsigned long long>(all.warmup_completed),
               static_cast<unsigned long long>(all.warmup_errors),
               static_cast<unsigned long long>(all.aborted), static_cast<unsigned long long>(all.connects));
  const int name_width = opt.scenario == Scenario::kRegister ? 10 : 18;
  std::fprintf(table, "%-*s %9s %7s %9s %9s %9s %9s %9s\n", name_width, "step", "count", "errors", "mean ms",
               "p50 ms", "p90 ms", "p99 ms", "max ms");
  for (Step k : shown) {
    const Summary& s = sums[k];
    std::fprintf(table, "%-*s %9llu %7llu %9.2f %9.2f %9.2f %9.2f %9.2f\n", name_width, kStepNames[k],
                 static_cast<unsigned long long>(s.count), static_cast<unsigned long long>(s.errors), s.mean,
                 s.p50, s.p90, s.p99, s.max);
  }
  if (all.pow_solved)
    std::fprintf(table, "proof of work: %llu solved, %.1f hashes and %.3f ms of client CPU each on average\n",
                 static_cast<unsigned long long>(all.pow_solved),
                 static_cast<double>(all.pow_hashes) / static_cast<double>(all.pow_solved),
                 static_cast<double>(all.pow_solve_us) / static_cast<double>(all.pow_solved) / 1000.0);
  if (shared.unreachable.load())
    std::fprintf(table, "the run was stopped early: the server stopped answering and connections failed\n");
  if (all.outbox_retries)
    std::fprintf(table, "note: %llu outbox re-reads were needed (code not yet in the file after the 200)\n",
                 static_cast<unsigned long long>(all.outbox_retries));

  json out;
  out["scenario"] = scenario_name(opt.scenario);
  out["unit"] = unit;
  out["host"] = opt.host;
  out["port"] = opt.port;
  out["concurrency"] = opt.concurrency;
  out["threads"] = opt.threads;
  out["requests_per_connection"] = opt.requests_per_connection;
  out["rate_target"] = opt.rate;
  out["warmup_s"] = opt.warmup_s;
  out["duration_s"] = round3(window_s);
  out["completed"] = all.completed;  // iterations of the scenario, counted in `unit`
  out["per_second"] = round3(per_second);
  // The same two figures under their names from before --scenario (for the register scenario, registrations).
  out["registrations"] = all.completed;
  out["registrations_per_second"] = round3(per_second);
  out["errors"] = errors;
  out["warmup_registrations"] = all.warmup_completed;
  out["warmup_errors"] = all.warmup_errors;
  out["aborted_at_end"] = all.aborted;
  out["connects"] = all.connects;
  out["outbox_retries"] = all.outbox_retries;
  out["server_unreachable"] = shared.unreachable.load();
  out["outbox_lines_read"] = outbox.lines();
  out["pow_solved"] = all.pow_solved;
  out["pow_mean_hashes"] =
      all.pow_solved ? round3(static_cast<double>(all.pow_hashes) / all.pow_solved) : 0.0;
  out["pow_mean_solve_ms"] =
      all.pow_solved ? round3(static_cast<double>(all.pow_solve_us) / all.pow_solved / 1000.0) : 0.0;
  json steps = json::object();
  for (Step k : shown) {
    const Summary& s = sums[k];
    steps[kStepNames[k]] = {{"count", s.count},        {"errors", s.errors},      {"mean_ms", round3(s.mean)},
                            {"p50_ms", round3(s.p50)}, {"p90_ms", round3(s.p90)}, {"p99_ms", round3(s.p99)},
                            {"max_ms", round3(s.max)}};
  }
  out["steps"] = steps;
  {
    std::lock_guard lock(shared.samples_mutex);
    out["error_samples"] = shared.error_samples;
  }
  std::string text = out.dump();
  if (opt.json) std::printf("%s\n", text.c_str());
  if (!opt.json_out.empty()) {
    std::ofstream f(opt.json_out);
    f << out.dump(2) << '\n';
    if (!f) {
      std::fprintf(stderr, "latchkey_loadgen: cannot write %s\n", opt.json_out.c_str());
      return 2;
    }
  }
  return errors == 0 && all.warmup_errors == 0 ? 0 : 1;
}
