// latchkey_relay_loadgen: message-relay benchmark against a running latchkeyd (docs/performance.md,
// "Message relay"). Three scenarios, one per run (--scenario):
//
//   online   R recipient accounts with D devices each keep GET /v1/websocket open (each device its own socket);
//            S senders send 1 KiB envelopes to them, either with PUT /v1/messages/{uuid} on keep-alive HTTP
//            connections (--send-via http) or with the socket's {"type":"send"} frame on their own
//            authenticated socket (--send-via ws, --ws-window frames in flight per socket). One send is one
//            request naming every device of the recipient, so it delivers D envelopes. Receivers acknowledge
//            with batched {"type":"ack"} frames (--ack-batch ids, or --ack-delay after the first unacknowledged
//            one). --rate 0 sends as fast as the senders can (closed loop); --rate R is an open-loop schedule:
//            send i is due at t0 + i/R whatever happened to the earlier ones, and its latency counts from that
//            due time (a late sender's delay is included, no coordinated omission).
//            Latency = receipt of the envelope frame on the recipient's socket - (due or actual) send start:
//            the first 18 content bytes carry a magic, the start time (this process's steady clock) and the
//            send's ticket; the rest is random.
//   offline  the same accounts, recipients not connected: the senders store as fast as possible for
//            --duration (after --warmup; everything sent in the warm-up is stored too); then every recipient
//            device connects at once and drains its queue (all envelopes, then queue_empty) while acknowledging;
//            the drain time runs from the first connect to the last device having its queue_empty and all its
//            acks written. Then every device reconnects once more to count envelopes that survived their ack.
//   idle     --connections authenticated sockets (accounts of --devices devices each, linked with
//            POST /v1/devices/provisioning/code + PUT /v1/devices/link), each waits for its queue_empty and stays
//            idle. With --server-pid the server's VmRSS and thread count are read before the first connect and
//            --hold after the last queue_empty: (after - before) / connections is the memory per idle connection.
//            Past 20,000 sockets they come from several loopback source addresses (--source-addresses): one
//            address has only 28,232 ephemeral ports towards the server's port.
//
// Accounts are registered first (not timed): session, proof of work, SMS code read from the --outbox file,
// code check, registration; --register-concurrency flows at once.
//
// --machine-check D first times a loopback ping-pong for D (how fast the machine is right now; see check_machine).
//
// Everything is bounded: each phase has a time cap (--setup-timeout, --duration + --warmup, --grace,
// --drain-timeout, --hold) and sends by --max-sends. Output: a table on stderr and, with --json, one JSON object
// on stdout (--json-out FILE also writes it). Exit status 0 when nothing failed.
#include <utility>  // before Asio: Boost 1.74's awaitable.hpp uses std::exchange without including it

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sodium.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <cerrno>
#include <cinttypes>
#include <charconv>
#include <cstdarg>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <map>
#include <sstream>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/encoding.h"
#include "crypto/proof_of_work.h"
#include "crypto/random.h"
#include "net/coalescing_stream.h"

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;
using json = nlohmann::json;
// Streams bound to a concrete io_context executor: no type-erased executor copies on every operation (they showed
// up in the load generator's profile).
using Executor = net::io_context::executor_type;
using TcpStream = beast::basic_stream<tcp, Executor, beast::unlimited_rate_policy>;

namespace {

// --------------------------------------------------------------------------------------------------------
// Options

enum class Scenario { kOnline, kOffline, kIdle };
enum class SendVia { kHttp, kWs };

// Idle sockets per loopback source address by default: below the 28,232 ephemeral ports that one source address has
// towards one server port (ip_local_port_range 32768-60999), with room for the set-up's connections.
constexpr int kSocketsPerSourceAddress = 20'000;

struct Options {
  Scenario scenario = Scenario::kOnline;
  SendVia send_via = SendVia::kHttp;
  std::string host = "127.0.0.1";
  std::string port = "8080";
  std::string outbox;
  int threads = 1;
  int recipients = 64;
  int devices = 1;  // devices per account (recipients; idle accounts), 1 to 6
  int senders = 32;
  int ws_window = 4;
  double rate = 0;
  double duration_s = 10;
  double warmup_s = 2;
  std::uint64_t max_sends = 0;
  int content_bytes = 1024;
  int ack_batch = 100;
  double ack_delay_s = 0.005;
  int connections = 10000;
  int source_addresses = 0;  // 0: one per kSocketsPerSourceAddress idle sockets (loopback only)
  int idle_devices = 6;
  double hold_s = 3;
  int connect_concurrency = 256;
  int register_concurrency = 64;
  long server_pid = 0;
  double timeout_s = 10;
  double setup_timeout_s = 300;
  double drain_timeout_s = 120;
  double grace_s = 5;
  std::uint64_t seed = 0;
  bool json = false;
  std::string json_out;
  int max_error_samples = 5;
  double machine_check_s = 0;
};

const char* scenario_name(Scenario s) {
  switch (s) {
    case Scenario::kOffline:
      return "offline";
    case Scenario::kIdle:
      return "idle";
    case Scenario::kOnline:
      break;
  }
  return "online";
}

[[noreturn]] void usage(int code) {
  std::fprintf(
      code == 0 ? stdout : stderr,
      "usage: latchkey_relay_loadgen --outbox PATH [options]   (bench/relay_loadgen.cc explains the scenarios)\n"
      "  --scenario S             online (default), offline or idle\n"
      "  --send-via V             http (PUT /v1/messages/{uuid}, default) or ws (the socket's send frame)\n"
      "  --host H / --port P      server (default 127.0.0.1:8080)\n"
      "  --outbox PATH            outbox file the server writes SMS codes to (required: accounts are registered)\n"
      "  --threads N              load-generator threads, one io_context each (default 1)\n"
      "  --recipients N           recipient accounts (online, offline; default 64)\n"
      "  --devices N              devices per recipient account, 1-6 (default 1)\n"
      "  --senders N              sender accounts, one connection each (default 32)\n"
      "  --ws-window N            send frames in flight per sender socket with --send-via ws (default 4)\n"
      "  --rate R                 sends/s, open loop (online); 0 = as fast as possible (default)\n"
      "  --duration D / --warmup D  measured sending time and unmeasured time before it (10s / 2s)\n"
      "  --max-sends N            stop sending after N sends (default unbounded)\n"
      "  --content-bytes N        envelope content size (default 1024)\n"
      "  --ack-batch N            ids per ack frame before it is sent at once (default 100, at most 1000)\n"
      "  --ack-delay D            longest wait before acknowledging a smaller batch (default 5ms)\n"
      "  --connections N          idle: sockets to open (default 10000)\n"
      "  --source-addresses N     spread the WebSocket connections over the loopback source addresses 127.0.0.1 to\n"
      "                           127.0.0.N (--host 127.x only). A source address has 28,232 ephemeral ports to one\n"
      "                           server port (ip_local_port_range 32768-60999). Default: one per 20,000 idle sockets\n"
      "  --idle-devices N         idle: devices per account, 1-6 (default 6: 5 linked devices each)\n"
      "  --hold D                 idle: wait after the last queue_empty before reading RSS (default 3s)\n"
      "  --connect-concurrency N  idle, drain: socket handshakes in flight (default 256)\n"
      "  --register-concurrency N registration flows in flight during set-up (default 64)\n"
      "  --server-pid PID         read the server's /proc/PID/status (VmRSS, Threads) around the idle phase\n"
      "  --timeout D              per HTTP request or handshake (default 10s)\n"
      "  --setup-timeout D        cap on account set-up (default 300s)\n"
      "  --grace D                online: wait for envelopes still due after the last send (default 5s)\n"
      "  --drain-timeout D        offline: cap on the drain (default 120s)\n"
      "  --seed N                 number/password seed (default random)\n"
      "  --json / --json-out FILE machine-readable summary on stdout / in FILE\n"
      "  --error-samples N        print the first N unexpected answers (default 5)\n"
      "  --machine-check D        first time a loopback TCP ping-pong of 1 KiB messages for D (default 0: off)\n");
  std::exit(code);
}

[[noreturn]] void bad(const char* what, const std::string& text) {
  std::fprintf(stderr, "latchkey_relay_loadgen: bad %s: %s\n", what, text.c_str());
  std::exit(2);
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
  else if (unit == "us")
    scale = 1e-6;
  else if (unit == "m")
    scale = 60;
  if (end == text.c_str() || scale == 0 || !(v >= 0) || !std::isfinite(v)) bad(what, text);
  return v * scale;
}

long long parse_int(const std::string& text, const char* what, long long min, long long max) {
  char* end = nullptr;
  long long v = std::strtoll(text.c_str(), &end, 10);
  if (end == text.c_str() || *end != '\0' || v < min || v > max) bad(what, text);
  return v;
}

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      auto eq = a.find('=');
      if (eq != std::string::npos) return a.substr(eq + 1);
      if (i + 1 >= argc) bad("option (needs a value)", a);
      return argv[++i];
    };
    std::string name = a.substr(0, a.find('='));
    constexpr long long kBig = 1LL << 40;
    if (name == "--help" || name == "-h")
      usage(0);
    else if (name == "--scenario") {
      std::string v = value();
      if (v == "online")
        o.scenario = Scenario::kOnline;
      else if (v == "offline")
        o.scenario = Scenario::kOffline;
      else if (v == "idle")
        o.scenario = Scenario::kIdle;
      else
        bad("--scenario (online, offline or idle)", v);
    } else if (name == "--send-via") {
      std::string v = value();
      if (v == "http")
        o.send_via = SendVia::kHttp;
      else if (v == "ws")
        o.send_via = SendVia::kWs;
      else
        bad("--send-via (http or ws)", v);
    } else if (name == "--host")
      o.host = value();
    else if (name == "--port")
      o.port = value();
    else if (name == "--outbox")
      o.outbox = value();
    else if (name == "--threads")
      o.threads = static_cast<int>(parse_int(value(), "--threads", 1, 64));
    else if (name == "--recipients")
      o.recipients = static_cast<int>(parse_int(value(), "--recipients", 1, 1'000'000));
    else if (name == "--devices")
      o.devices = static_cast<int>(parse_int(value(), "--devices", 1, 6));
    else if (name == "--senders")
      o.senders = static_cast<int>(parse_int(value(), "--senders", 1, 100'000));
    else if (name == "--ws-window")
      o.ws_window = static_cast<int>(parse_int(value(), "--ws-window", 1, 10'000));
    else if (name == "--rate") {
      std::string v = value();
      char* end = nullptr;
      o.rate = std::strtod(v.c_str(), &end);
      if (end == v.c_str() || *end != '\0' || !(o.rate >= 0) || !std::isfinite(o.rate)) bad("--rate", v);
    } else if (name == "--duration")
      o.duration_s = parse_seconds(value(), "--duration");
    else if (name == "--warmup")
      o.warmup_s = parse_seconds(value(), "--warmup");
    else if (name == "--max-sends")
      o.max_sends = static_cast<std::uint64_t>(parse_int(value(), "--max-sends", 1, kBig));
    else if (name == "--content-bytes")
      o.content_bytes = static_cast<int>(parse_int(value(), "--content-bytes", 18, 1 << 20));
    else if (name == "--ack-batch")
      o.ack_batch = static_cast<int>(parse_int(value(), "--ack-batch", 1, 1000));
    else if (name == "--ack-delay")
      o.ack_delay_s = parse_seconds(value(), "--ack-delay");
    else if (name == "--connections")
      o.connections = static_cast<int>(parse_int(value(), "--connections", 1, 10'000'000));
    else if (name == "--source-addresses")
      o.source_addresses = static_cast<int>(parse_int(value(), "--source-addresses", 1, 254));
    else if (name == "--idle-devices")
      o.idle_devices = static_cast<int>(parse_int(value(), "--idle-devices", 1, 6));
    else if (name == "--hold")
      o.hold_s = parse_seconds(value(), "--hold");
    else if (name == "--connect-concurrency")
      o.connect_concurrency = static_cast<int>(parse_int(value(), "--connect-concurrency", 1, 1'000'000));
    else if (name == "--register-concurrency")
      o.register_concurrency = static_cast<int>(parse_int(value(), "--register-concurrency", 1, 100'000));
    else if (name == "--server-pid")
      o.server_pid = static_cast<long>(parse_int(value(), "--server-pid", 0, 1LL << 31));
    else if (name == "--timeout")
      o.timeout_s = parse_seconds(value(), "--timeout");
    else if (name == "--setup-timeout")
      o.setup_timeout_s = parse_seconds(value(), "--setup-timeout");
    else if (name == "--grace")
      o.grace_s = parse_seconds(value(), "--grace");
    else if (name == "--drain-timeout")
      o.drain_timeout_s = parse_seconds(value(), "--drain-timeout");
    else if (name == "--seed")
      o.seed = static_cast<std::uint64_t>(parse_int(value(), "--seed", 0, 1LL << 62));
    else if (name == "--json")
      o.json = true;
    else if (name == "--machine-check")
      o.machine_check_s = parse_seconds(value(), "--machine-check");
    else if (name == "--json-out")
      o.json_out = value();
    else if (name == "--error-samples")
      o.max_error_samples = static_cast<int>(parse_int(value(), "--error-samples", 0, 1000));
    else {
      std::fprintf(stderr, "latchkey_relay_loadgen: unknown option %s\n", a.c_str());
      usage(2);
    }
  }
  if (o.outbox.empty()) {
    std::fprintf(stderr, "latchkey_relay_loadgen: --outbox PATH is required (accounts are registered first)\n");
    usage(2);
  }
  if (o.duration_s <= 0) bad("--duration", "must be > 0");
  if (o.timeout_s <= 0) o.timeout_s = 10;
  return o;
}

// --------------------------------------------------------------------------------------------------------
// Small helpers

using latchkey::base64_decode;
using latchkey::base64_encode;
using latchkey::base64url_decode;

std::int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}
Clock::duration seconds(double s) {
  return std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(s));
}
double round3(double v) { return std::round(v * 1000.0) / 1000.0; }

std::string basic_auth(const std::string& username, const std::string& password) {
  return "Basic " + base64_encode(username + ":" + password);
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

// Valid French mobile numbers (+336 then 60-62/64-68 and six digits), from a random base plus a counter.
constexpr std::uint64_t kNumberSpace = 80'000'000;
std::string make_number(std::uint64_t index) {
  static constexpr char kSecond[8] = {'0', '1', '2', '4', '5', '6', '7', '8'};
  index %= kNumberSpace;
  char buf[20];
  std::snprintf(buf, sizeof buf, "+336%c%07llu", kSecond[index / 10'000'000],
                static_cast<unsigned long long>(index % 10'000'000));
  return buf;
}

// Server frames are small JSON objects written by the server. The hot path (envelopes) is scanned for the
// few fields it needs instead of being parsed: `"key"` followed by optional spaces and a colon. Envelope
// content is base64 and the other string fields are uuids, so a key cannot appear inside a value.
std::size_t find_value(std::string_view s, std::string_view key) {
  std::size_t from = 0;
  for (;;) {
    std::size_t k = s.find(key, from);
    if (k == std::string_view::npos) return std::string_view::npos;
    std::size_t i = k + key.size();
    if (k > 0 && s[k - 1] == '"' && i < s.size() && s[i] == '"') {
      ++i;
      while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
      if (i < s.size() && s[i] == ':') {
        ++i;
        while (i < s.size() && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) ++i;
        return i;
      }
    }
    from = k + 1;
  }
}
std::optional<std::string_view> string_field(std::string_view s, std::string_view key) {
  std::size_t i = find_value(s, key);
  if (i == std::string_view::npos || i >= s.size() || s[i] != '"') return std::nullopt;
  std::size_t end = s.find('"', i + 1);
  if (end == std::string_view::npos) return std::nullopt;
  return s.substr(i + 1, end - i - 1);
}
std::optional<std::uint64_t> uint_field(std::string_view s, std::string_view key) {
  std::size_t i = find_value(s, key);
  if (i == std::string_view::npos) return std::nullopt;
  std::uint64_t v = 0;
  auto [p, ec] = std::from_chars(s.data() + i, s.data() + s.size(), v);
  if (ec != std::errc() || p == s.data() + i) return std::nullopt;
  return v;
}

// Content header: 2 magic bytes, the send's start time (steady clock ns, big endian) and its ticket: 18 bytes,
// a multiple of 3, so its base64 is exactly 24 characters and the rest of the content's base64 is computed once.
constexpr std::size_t kHeaderBytes = 18;
constexpr std::size_t kHeaderChars = 24;
std::string content_header_b64(std::int64_t start_ns, std::uint64_t ticket) {
  unsigned char h[kHeaderBytes];
  h[0] = 'L';
  h[1] = 'K';
  auto put = [&](int at, std::uint64_t v) {
    for (int b = 7; b >= 0; --b) {
      h[at + b] = static_cast<unsigned char>(v & 0xff);
      v >>= 8;
    }
  };
  put(2, static_cast<std::uint64_t>(start_ns));
  put(10, ticket);
  return base64_encode(std::string_view(reinterpret_cast<const char*>(h), kHeaderBytes));
}
struct ContentHeader {
  std::int64_t start_ns = 0;
  std::uint64_t ticket = 0;
};
std::optional<ContentHeader> parse_content_header(std::string_view content_b64) {
  if (content_b64.size() < kHeaderChars) return std::nullopt;
  auto bytes = base64_decode(content_b64.substr(0, kHeaderChars));
  if (!bytes || bytes->size() != kHeaderBytes || (*bytes)[0] != 'L' || (*bytes)[1] != 'K') return std::nullopt;
  auto get = [&](int at) {
    std::uint64_t v = 0;
    for (int b = 0; b < 8; ++b) v = (v << 8) | static_cast<unsigned char>((*bytes)[at + b]);
    return v;
  };
  return ContentHeader{static_cast<std::int64_t>(get(2)), get(10)};
}

struct ProcStatus {
  long rss_kb = 0, hwm_kb = 0, threads = 0;
};
ProcStatus read_status(const std::string& pid) {
  ProcStatus s;
  std::ifstream f("/proc/" + pid + "/status");
  std::string key;
  while (f >> key) {
    if (key == "VmRSS:")
      f >> s.rss_kb;
    else if (key == "VmHWM:")
      f >> s.hwm_kb;
    else if (key == "Threads:")
      f >> s.threads;
    f.ignore(1 << 20, '\n');
  }
  return s;
}
double cpu_seconds_self() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// CPU of the server by thread (from /proc/PID/task/*/stat), of this process and of the whole machine, between two
// snapshots: what bounds a run.
struct CpuSnap {
  std::int64_t t_ns = 0;
  std::unordered_map<long, std::pair<std::string, long long>> threads;  // tid -> (name, user+system ticks)
  long long server_ticks = 0;
  long long machine_busy = 0, machine_total = 0;
  double self_cpu_s = 0;
};
long long stat_ticks(const std::string& path) {
  std::ifstream f(path);
  std::string line;
  std::getline(f, line);
  auto close = line.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::atoll(field.c_str());
    if (i == 15) stime = std::atoll(field.c_str());
  }
  return utime + stime;
}
CpuSnap cpu_snap(const std::string& pid) {
  CpuSnap s;
  s.t_ns = now_ns();
  s.self_cpu_s = cpu_seconds_self();
  {
    std::ifstream f("/proc/stat");
    std::string cpu;
    long long v[10] = {};
    f >> cpu;
    for (auto& x : v) f >> x;
    s.machine_busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    s.machine_total = s.machine_busy + v[3] + v[4];
  }
  if (pid.empty()) return s;
  s.server_ticks = stat_ticks("/proc/" + pid + "/stat");
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/" + pid + "/task", ec)) {
    const std::string tid = entry.path().filename().string();
    std::ifstream comm(entry.path() / "comm");
    std::string name;
    std::getline(comm, name);
    long long ticks = stat_ticks(entry.path().string() + "/stat");
    if (ticks >= 0) s.threads[std::atol(tid.c_str())] = {name, ticks};
  }
  return s;
}
json cpu_between(const CpuSnap& a, const CpuSnap& b) {
  static const double tck = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double wall = static_cast<double>(b.t_ns - a.t_ns) / 1e9;
  json j;
  j["wall_s"] = round3(wall);
  if (wall <= 0) return j;
  j["loadgen_cpu_percent"] = std::round((b.self_cpu_s - a.self_cpu_s) / wall * 1000.0) / 10.0;
  j["machine_busy_percent"] =
      std::round(static_cast<double>(b.machine_busy - a.machine_busy) /
                 static_cast<double>(std::max(1LL, b.machine_total - a.machine_total)) * 1000.0) /
      10.0;
  if (b.threads.empty()) return j;
  j["server_cpu_percent"] = std::round(static_cast<double>(b.server_ticks - a.server_ticks) / tck / wall * 1000.0) / 10.0;
  std::map<std::string, double> by_name;
  std::vector<std::pair<double, std::string>> by_thread;
  for (const auto& [tid, nt] : b.threads) {
    auto it = a.threads.find(tid);
    const long long before = it == a.threads.end() ? 0 : it->second.second;
    const double pct = static_cast<double>(nt.second - before) / tck / wall * 100.0;
    by_name[nt.first] += pct;
    by_thread.emplace_back(pct, nt.first + "/" + std::to_string(tid));
  }
  std::sort(by_thread.rbegin(), by_thread.rend());
  std::vector<std::pair<std::string, double>> names(by_name.begin(), by_name.end());
  std::sort(names.begin(), names.end(), [](const auto& x, const auto& y) { return x.second > y.second; });
  json per_name = json::array(), busiest = json::array();
  for (const auto& [n, p] : names)
    if (p >= 0.05) per_name.push_back({n, std::round(p * 10.0) / 10.0});
  for (std::size_t i = 0; i < by_thread.size() && i < 6; ++i)
    busiest.push_back({by_thread[i].second, std::round(by_thread[i].first * 10.0) / 10.0});
  j["server_threads_cpu_percent"] = per_name;  // [[name, percent], ...], busiest first
  j["server_busiest_threads_cpu_percent"] = busiest;
  j["server_thread_count"] = b.threads.size();
  return j;
}
std::string cpu_text(const json& c) {
  std::string t;
  char buf[160];
  if (c.contains("server_cpu_percent")) {
    std::snprintf(buf, sizeof buf, "server CPU %.1f%%", c["server_cpu_percent"].get<double>());
    t += buf;
    t += " (";
    int shown = 0;
    for (const auto& e : c["server_threads_cpu_percent"]) {
      if (shown++ == 6) break;
      std::snprintf(buf, sizeof buf, "%s%s %.1f%%", shown > 1 ? ", " : "", e[0].get<std::string>().c_str(),
                    e[1].get<double>());
      t += buf;
    }
    t += "), ";
  }
  std::snprintf(buf, sizeof buf, "load generator CPU %.1f%%, machine busy %.1f%%",
                c.value("loadgen_cpu_percent", 0.0), c.value("machine_busy_percent", 0.0));
  return t + buf;
}

// --------------------------------------------------------------------------------------------------------
// Outbox reader (as in registration_loadgen.cc): codes indexed by number, read from the file's end at start.

class Outbox {
 public:
  explicit Outbox(std::string path) : path_(std::move(path)) {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd_ >= 0) offset_ = ::lseek(fd_, 0, SEEK_END);
    if (offset_ < 0) offset_ = 0;
  }
  ~Outbox() {
    if (fd_ >= 0) ::close(fd_);
  }
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

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

 private:
  void drain() {
    if (fd_ < 0) {
      fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd_ < 0) return;
      offset_ = 0;
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
      std::string_view line = std::string_view(partial_).substr(start, nl - start);
      json j = json::parse(line, nullptr, false);
      if (j.is_object() && j.contains("to") && j["to"].is_string() && j.contains("body") && j["body"].is_string()) {
        if (auto code = find_code(j["body"].get_ref<const std::string&>()))
          codes_[j["to"].get<std::string>()] = std::move(*code);
      }
      start = nl + 1;
    }
    partial_.erase(0, start);
  }

  std::string path_;
  int fd_ = -1;
  off_t offset_ = 0;
  std::string partial_;
  std::unordered_map<std::string, std::string> codes_;
  std::mutex mutex_;
};

// --------------------------------------------------------------------------------------------------------
// Shared state and statistics

struct Device {
  int id = 1;
  int registration_id = 1;
  std::string password;
  std::string auth;  // "Basic ..." for uuid.id:password
};
struct Account {
  std::string number, uuid;
  std::vector<Device> devices;
  bool ready = false;
};

struct Summary {
  std::uint64_t count = 0;
  double p50 = 0, p90 = 0, p99 = 0, p999 = 0, max = 0, mean = 0;
};
Summary summarize(std::vector<std::uint32_t>& v) {
  Summary s;
  s.count = v.size();
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  auto pct = [&](double p) {
    std::size_t rank = static_cast<std::size_t>(std::ceil(p / 100.0 * static_cast<double>(v.size())));
    if (rank < 1) rank = 1;
    return v[std::min(rank, v.size()) - 1] / 1000.0;
  };
  s.p50 = pct(50);
  s.p90 = pct(90);
  s.p99 = pct(99);
  s.p999 = pct(99.9);
  s.max = v.back() / 1000.0;
  double sum = 0;
  for (auto x : v) sum += x;
  s.mean = sum / static_cast<double>(v.size()) / 1000.0;
  return s;
}
json summary_json(const Summary& s) {
  return {{"count", s.count},           {"mean_ms", round3(s.mean)}, {"p50_ms", round3(s.p50)},
          {"p90_ms", round3(s.p90)},    {"p99_ms", round3(s.p99)},   {"p999_ms", round3(s.p999)},
          {"max_ms", round3(s.max)}};
}

std::uint32_t to_us(std::int64_t ns) {
  if (ns < 0) return 0;
  return static_cast<std::uint32_t>(std::min<std::int64_t>(ns / 1000, UINT32_MAX));
}

struct Shared {
  Options opt;
  tcp::endpoint endpoint;
  // Loopback source addresses the WebSocket connections are spread over, round robin; empty: the kernel picks.
  std::vector<net::ip::address_v4> sources;
  std::atomic<std::uint32_t> next_source{0};
  std::string host_header;
  Outbox* outbox = nullptr;
  std::uint64_t seed = 0;
  std::uint64_t number_base = 0;
  std::atomic<std::uint64_t> next_number{0};

  // The sending window (online, offline).
  std::int64_t t0_ns = 0, measure_start_ns = 0, end_ns = 0;
  std::atomic<std::uint64_t> next_ticket{0};
  std::atomic<bool> stop_sending{false};
  std::atomic<std::uint64_t> sends_ok{0};  // every 200 answer
  std::atomic<std::uint64_t> send_errors{0};
  std::atomic<std::uint64_t> expected_envelopes{0};  // sum over 200 answers of the devices named
  std::atomic<std::uint64_t> received_envelopes{0};  // every envelope frame
  std::atomic<int> senders_done{0};
  std::atomic<std::uint64_t> unexpected_frames{0};

  std::string content_rest_b64;  // base64 of the content after the 18-byte header

  std::mutex samples_mutex;
  std::vector<std::string> error_samples;
  std::atomic<std::uint64_t> total_errors{0};

  bool in_window(std::int64_t t) const { return t >= measure_start_ns && t < end_ns; }

  void error(std::string what) {
    std::uint64_t n = total_errors.fetch_add(1);
    if (n < static_cast<std::uint64_t>(opt.max_error_samples)) {
      if (what.size() > 600) what.resize(600);
      std::fprintf(stderr, "latchkey_relay_loadgen: error #%llu %s\n", static_cast<unsigned long long>(n + 1),
                   what.c_str());
      std::lock_guard lock(samples_mutex);
      error_samples.push_back(std::move(what));
    }
  }
};

// Per sender, merged at the end (each object is only touched by its io_context's thread).
struct SendStats {
  std::vector<std::uint32_t> send_us;  // answer (HTTP 200 or send_result) - send start, window only
  std::uint64_t ok_in_window = 0;
  std::uint64_t late = 0;  // paced sends that started > 1 ms after they were due
  // Paced sends in the window: started - due. The load generator's own lateness, which the latencies include.
  std::vector<std::uint32_t> start_lag_us;
};

// --------------------------------------------------------------------------------------------------------
// HTTP client connection (one request at a time, keep-alive)

struct HttpResult {
  beast::error_code ec;
  int status = 0;
  std::string body;
};

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"  // see registration_loadgen.cc: a GCC 12 false positive
#endif

class HttpConn {
 public:
  HttpConn(Executor ex, Shared& shared) : shared_(shared), stream_(ex) {}

  net::awaitable<HttpResult> request(http::verb verb, std::string target, std::string body,
                                     const std::string* authorization = nullptr) {
    HttpResult result;
    const auto timeout = seconds(shared_.opt.timeout_s);
    if (!connected_) {
      stream_.expires_after(timeout);
      co_await stream_.async_connect(shared_.endpoint, net::redirect_error(net::use_awaitable, result.ec));
      if (result.ec) {
        stream_.close();
        co_return result;
      }
      stream_.socket().set_option(tcp::no_delay(true), result.ec);
      result.ec = {};
      connected_ = true;
    }
    http::request<http::string_body> req{verb, target, 11};
    req.set(http::field::host, shared_.host_header);
    req.set(http::field::user_agent, "latchkey_relay_loadgen");
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
        if (!res.keep_alive()) close();
      }
    }
    if (result.ec) close();
    co_return result;
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    buffer_.consume(buffer_.size());
    connected_ = false;
  }

 private:
  Shared& shared_;
  TcpStream stream_;
  beast::flat_buffer buffer_;
  bool connected_ = false;
};

std::string describe(const HttpResult& r) {
  if (r.ec) return "transport error: " + r.ec.message();
  return "HTTP " + std::to_string(r.status) + " " + r.body;
}

// --------------------------------------------------------------------------------------------------------
// Account set-up: registration (+ linked devices)

std::string session_body(const std::string& number) { return json{{"number", number}}.dump(); }
std::string pow_body(const std::string& nonce) { return json{{"proofOfWork", {{"nonce", nonce}}}}.dump(); }
std::string code_body(const std::string& code) { return json{{"code", code}}.dump(); }
std::string registration_body(const std::string& session_id, int registration_id) {
  return json{{"sessionId", session_id}, {"accountAttributes", {{"registrationId", registration_id}}}}.dump();
}
std::string link_body(const std::string& code, const std::string& password, int registration_id) {
  return json{{"verificationCode", code}, {"password", password}, {"registrationId", registration_id}}.dump();
}
std::optional<json> object_body(const HttpResult& r, int status) {
  if (r.ec || r.status != status) return std::nullopt;
  json j = json::parse(r.body, nullptr, false);
  if (!j.is_object()) return std::nullopt;
  return j;
}

class Registrar {
 public:
  Registrar(Executor ex, Shared& shared, std::vector<Account>& accounts, std::vector<int>& device_counts,
            std::atomic<std::size_t>& next, std::atomic<std::size_t>& done, std::atomic<std::size_t>& failed,
            std::atomic<int>& exited, int index)
      : ex_(ex),
        shared_(shared),
        accounts_(accounts),
        device_counts_(device_counts),
        next_(next),
        done_(done),
        failed_(failed),
        exited_(exited),
        http_(ex, shared),
        rng_(shared.seed * 7'919ULL + static_cast<std::uint64_t>(index)) {}

  net::awaitable<void> run() {
    for (;;) {
      std::size_t i = next_.fetch_add(1);
      if (i >= accounts_.size()) break;
      bool ok = co_await make_account(accounts_[i], device_counts_[i]);
      if (ok)
        accounts_[i].ready = true;
      else
        failed_.fetch_add(1);
      done_.fetch_add(1);
      if (!ok) break;
    }
    http_.close();
    exited_.fetch_add(1);
  }

 private:
  std::string random_password() {
    static constexpr char kChars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    std::uniform_int_distribution<int> pick(0, 61);
    std::string p(24, 'x');
    for (char& c : p) c = kChars[pick(rng_)];
    return p;
  }
  int random_registration_id() { return std::uniform_int_distribution<int>(1, 16383)(rng_); }

  net::awaitable<bool> make_account(Account& a, int devices) {
    for (int attempt = 0; attempt < 3; ++attempt) {
      a.number = make_number(shared_.number_base + shared_.next_number.fetch_add(1));
      int registered = co_await register_number(a);
      if (registered < 0) co_return false;
      if (registered > 0) break;
      // 0: the number already belonged to an active account (202); take another one.
      if (attempt == 2) {
        shared_.error("setup: three numbers in a row belonged to active accounts");
        co_return false;
      }
    }
    for (int d = 2; d <= devices; ++d) {
      bool linked = co_await link_device(a);
      if (!linked) co_return false;
    }
    co_return true;
  }

  // 1: registered; 0: 202 (number in use); -1: error.
  net::awaitable<int> register_number(Account& a) {
    HttpResult r = co_await http_.request(http::verb::post, "/v1/verification/session", session_body(a.number));
    auto session = object_body(r, 200);
    if (!session || !session->contains("id") || !(*session)["id"].is_string()) {
      shared_.error("setup: POST /v1/verification/session: " + describe(r));
      co_return -1;
    }
    const std::string id = (*session)["id"].get<std::string>();
    const std::string path = "/v1/verification/session/" + id;
    bool pow = false;
    if (session->contains("requestedInformation") && (*session)["requestedInformation"].is_array())
      for (const auto& item : (*session)["requestedInformation"])
        if (item.is_string() && item.get_ref<const std::string&>() == "proofOfWork") pow = true;
    if (pow) {
      const json& p = (*session)["proofOfWork"];
      std::optional<std::string> challenge;
      int bits = -1;
      if (p.is_object() && p.contains("challenge") && p["challenge"].is_string() && p.contains("bits") &&
          p["bits"].is_number_integer()) {
        challenge = base64url_decode(p["challenge"].get_ref<const std::string&>());
        bits = p["bits"].get<int>();
      }
      if (!challenge || bits < 0 || bits > 40) {
        shared_.error("setup: bad proofOfWork in " + session->dump());
        co_return -1;
      }
      auto nonce = latchkey::solve_proof_of_work(*challenge, bits, 1ULL << std::min(bits + 8, 40));
      if (!nonce) {
        shared_.error("setup: proof of work not solved");
        co_return -1;
      }
      r = co_await http_.request(http::verb::patch, path, pow_body(*nonce));
      if (!object_body(r, 200)) {
        shared_.error("setup: PATCH session: " + describe(r));
        co_return -1;
      }
    }
    r = co_await http_.request(http::verb::post, path + "/code", std::string(R"({"transport":"sms"})"));
    if (!object_body(r, 200)) {
      shared_.error("setup: POST code: " + describe(r));
      co_return -1;
    }
    std::optional<std::string> code = shared_.outbox->take(a.number);
    net::steady_timer wait(ex_);
    for (int i = 0; !code && i < 1000; ++i) {
      wait.expires_after(std::chrono::milliseconds(2));
      beast::error_code ec;
      co_await wait.async_wait(net::redirect_error(net::use_awaitable, ec));
      code = shared_.outbox->take(a.number);
    }
    if (!code) {
      shared_.error("setup: no code for " + a.number + " in the outbox " + shared_.opt.outbox);
      co_return -1;
    }
    r = co_await http_.request(http::verb::put, path + "/code", code_body(*code));
    auto verified = object_body(r, 200);
    if (!verified || !verified->value("verified", false)) {
      shared_.error("setup: PUT code: " + describe(r));
      co_return -1;
    }
    Device d;
    d.id = 1;
    d.registration_id = random_registration_id();
    d.password = random_password();
    const std::string number_auth = basic_auth(a.number, d.password);
    r = co_await http_.request(http::verb::post, "/v1/registration", registration_body(id, d.registration_id),
                               &number_auth);
    if (!r.ec && r.status == 202) co_return 0;
    auto registered = object_body(r, 200);
    if (!registered || !registered->contains("uuid") || !(*registered)["uuid"].is_string()) {
      shared_.error("setup: POST /v1/registration: " + describe(r));
      co_return -1;
    }
    a.uuid = (*registered)["uuid"].get<std::string>();
    d.auth = basic_auth(a.uuid + ".1", d.password);
    a.devices.clear();
    a.devices.push_back(std::move(d));
    co_return 1;
  }

  net::awaitable<bool> link_device(Account& a) {
    const std::string& primary_auth = a.devices.front().auth;
    HttpResult r =
        co_await http_.request(http::verb::post, "/v1/devices/provisioning/code", std::string("{}"), &primary_auth);
    auto code = object_body(r, 200);
    if (!code || !code->contains("verificationCode") || !(*code)["verificationCode"].is_string()) {
      shared_.error("setup: POST /v1/devices/provisioning/code: " + describe(r));
      co_return false;
    }
    Device d;
    d.registration_id = random_registration_id();
    d.password = random_password();
    r = co_await http_.request(http::verb::put, "/v1/devices/link",
                               link_body((*code)["verificationCode"].get<std::string>(), d.password,
                                         d.registration_id));
    auto linked = object_body(r, 200);
    if (!linked || !linked->contains("deviceId") || !(*linked)["deviceId"].is_number_integer()) {
      shared_.error("setup: PUT /v1/devices/link: " + describe(r));
      co_return false;
    }
    d.id = (*linked)["deviceId"].get<int>();
    if (linked->contains("uuid") && (*linked)["uuid"].is_string() && (*linked)["uuid"].get<std::string>() != a.uuid) {
      shared_.error("setup: PUT /v1/devices/link answered another uuid: " + r.body);
      co_return false;
    }
    d.auth = basic_auth(a.uuid + "." + std::to_string(d.id), d.password);
    a.devices.push_back(std::move(d));
    co_return true;
  }

  Executor ex_;
  Shared& shared_;
  std::vector<Account>& accounts_;
  std::vector<int>& device_counts_;
  std::atomic<std::size_t>& next_;
  std::atomic<std::size_t>& done_;
  std::atomic<std::size_t>& failed_;
  std::atomic<int>& exited_;
  HttpConn http_;
  std::mt19937_64 rng_;
};

// --------------------------------------------------------------------------------------------------------
// Send bodies

// The "messages" array for one send to every device of `to`, with the content header for this send.
std::string messages_array(const Shared& shared, const Account& to, const std::string& header_b64) {
  std::string s;
  s.reserve(to.devices.size() * (shared.content_rest_b64.size() + 120) + 2);
  s += '[';
  bool first = true;
  for (const Device& d : to.devices) {
    if (!first) s += ',';
    first = false;
    s += R"({"type":1,"destinationDeviceId":)";
    s += std::to_string(d.id);
    s += R"(,"destinationRegistrationId":)";
    s += std::to_string(d.registration_id);
    s += R"(,"content":")";
    s += header_b64;
    s += shared.content_rest_b64;
    s += "\"}";
  }
  s += ']';
  return s;
}
std::int64_t epoch_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}
std::string http_send_body(const Shared& shared, const Account& to, const std::string& header_b64) {
  return R"({"timestamp":)" + std::to_string(epoch_ms()) + R"(,"messages":)" + messages_array(shared, to, header_b64) +
         "}";
}
std::string ws_send_frame(const Shared& shared, const Account& to, const std::string& header_b64,
                          const std::string& request_id) {
  return R"({"type":"send","requestId":")" + request_id + R"(","destination":")" + to.uuid + R"(","timestamp":)" +
         std::to_string(epoch_ms()) + R"(,"messages":)" + messages_array(shared, to, header_b64) + "}";
}

// The next send: ticket, due time (paced) and recipient. False when the run is over.
struct Ticket {
  std::uint64_t ticket = 0;
  std::int64_t due_ns = 0;  // 0 when not paced
};
bool take_ticket(Shared& shared, Ticket* t) {
  if (shared.stop_sending.load(std::memory_order_relaxed)) return false;
  if (now_ns() >= shared.end_ns) return false;
  t->ticket = shared.next_ticket.fetch_add(1);
  if (shared.opt.max_sends && t->ticket >= shared.opt.max_sends) return false;
  t->due_ns = 0;
  if (shared.opt.rate > 0) {
    t->due_ns = shared.t0_ns + static_cast<std::int64_t>(static_cast<double>(t->ticket) / shared.opt.rate * 1e9);
    if (t->due_ns >= shared.end_ns) return false;
  }
  return true;
}

// --------------------------------------------------------------------------------------------------------
// HTTP sender: PUT /v1/messages/{uuid}

class HttpSender {
 public:
  HttpSender(Executor ex, Shared& shared, const Account& self, const std::vector<Account>& recipients)
      : ex_(ex), shared_(shared), self_(self), recipients_(recipients), http_(ex, shared) {}

  SendStats& stats() { return stats_; }
  Executor executor() const { return ex_; }

  net::awaitable<void> run() {
    net::steady_timer pace(ex_);
    const std::string& auth = self_.devices.front().auth;
    Ticket t;
    while (take_ticket(shared_, &t)) {
      if (t.due_ns) {
        std::int64_t now = now_ns();
        if (t.due_ns > now) {
          pace.expires_after(std::chrono::nanoseconds(t.due_ns - now));
          beast::error_code ec;
          co_await pace.async_wait(net::redirect_error(net::use_awaitable, ec));
        } else if (now - t.due_ns > 1'000'000) {
          ++stats_.late;
        }
      }
      const Account& to = recipients_[t.ticket % recipients_.size()];
      const std::int64_t started = now_ns();
      const std::int64_t start_ns = t.due_ns ? t.due_ns : started;
      if (t.due_ns && shared_.in_window(start_ns)) stats_.start_lag_us.push_back(to_us(started - start_ns));
      std::string body = http_send_body(shared_, to, content_header_b64(start_ns, t.ticket));
      HttpResult r = co_await http_.request(http::verb::put, "/v1/messages/" + to.uuid, std::move(body), &auth);
      const std::int64_t answered = now_ns();
      if (r.ec || r.status != 200) {
        shared_.send_errors.fetch_add(1);
        shared_.error("PUT /v1/messages/" + to.uuid + ": " + describe(r));
        if (r.ec) {
          // Do not spin on a dead server.
          pace.expires_after(std::chrono::milliseconds(100));
          beast::error_code ec;
          co_await pace.async_wait(net::redirect_error(net::use_awaitable, ec));
        }
        continue;
      }
      shared_.expected_envelopes.fetch_add(to.devices.size());
      shared_.sends_ok.fetch_add(1);
      if (shared_.in_window(start_ns)) {
        stats_.send_us.push_back(to_us(answered - start_ns));
        ++stats_.ok_in_window;
      }
    }
    http_.close();
    shared_.senders_done.fetch_add(1);
  }

 private:
  Executor ex_;
  Shared& shared_;
  const Account& self_;
  const std::vector<Account>& recipients_;
  HttpConn http_;
  SendStats stats_;
};

// --------------------------------------------------------------------------------------------------------
// Authenticated socket: GET /v1/websocket. Receives (and acknowledges) envelopes; with a recipient list it
// also sends with {"type":"send"} frames. One reader coroutine, one writer coroutine at a time (Beast allows
// one read and one write in flight), all on one io_context thread.

enum class WsState { kIdle, kConnecting, kOpen, kReady, kClosed, kFailed };

class WsConn {
 public:
  WsConn(net::io_context& ctx, Shared& shared, const Account& account, const Device& device)
      : ctx_(ctx),
        shared_(shared),
        account_(account),
        device_(device),
        tcp_(ctx.get_executor()),
        ws_(tcp_),
        ack_timer_(ctx),
        window_timer_(ctx) {}

  WsState state() const { return state_.load(std::memory_order_acquire); }
  bool ready() const { return state() == WsState::kReady; }
  // Drain: queue_empty seen and every id acknowledged and written.
  bool drained() const { return drained_.load(std::memory_order_acquire); }
  std::uint64_t received() const { return received_.load(std::memory_order_relaxed); }
  std::uint64_t received_before_empty() const { return before_empty_.load(std::memory_order_relaxed); }
  std::int64_t drained_at_ns() const { return drained_at_ns_.load(std::memory_order_relaxed); }
  std::uint64_t ack_frames() const { return ack_frames_; }
  std::uint64_t acked_ids() const { return acked_ids_; }
  std::vector<std::uint32_t>& latency_us() { return latency_us_; }
  std::uint64_t received_in_window() const { return in_window_; }
  std::uint64_t bad_content() const { return bad_content_; }
  SendStats& send_stats() { return send_stats_; }
  const std::string& close_info() const { return close_info_; }

  // Connects (handshake with Basic auth), then reads until the socket closes. `done_connecting` is called once
  // when the handshake finished or failed (the idle and drain phases bound the handshakes in flight).
  void start(std::function<void()> done_connecting = {}) {
    done_connecting_ = std::move(done_connecting);
    net::co_spawn(ws_.get_executor(), run(), net::detached);
  }

  // With --send-via ws: starts sending to `recipients` once the socket is ready (call from any thread).
  void start_sending(const std::vector<Account>* recipients) {
    net::post(ws_.get_executor(), [this, recipients] {
      recipients_ = recipients;
      net::co_spawn(ws_.get_executor(), send_loop(), net::detached);
    });
  }

  // Opens the socket bound to the next source address. The port is left to connect() (IP_BIND_ADDRESS_NO_PORT):
  // only the whole address pair must be unique, so each source address has the full ephemeral range.
  template <class Socket>
  void bind_source(Socket& socket, beast::error_code& ec) {
    const auto& source = shared_.sources[shared_.next_source.fetch_add(1) % shared_.sources.size()];
    socket.open(tcp::v4(), ec);
    if (ec) return;
    int one = 1;
    if (::setsockopt(socket.native_handle(), IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one) != 0) {
      ec.assign(errno, boost::system::system_category());
      return;
    }
    socket.bind(tcp::endpoint(source, 0), ec);
  }

  // Normal close (1000) after the queued frames and acknowledgements are written (any thread).
  void close() {
    net::post(ws_.get_executor(), [this] {
      close_requested_ = true;
      kick_writer();
    });
  }

 private:
  net::awaitable<void> run() {
    state_.store(WsState::kConnecting, std::memory_order_release);
    beast::error_code ec;
    auto& tcp_layer = beast::get_lowest_layer(ws_);
    tcp_layer.expires_after(seconds(shared_.opt.timeout_s));
    if (!shared_.sources.empty()) bind_source(tcp_layer.socket(), ec);
    if (!ec) co_await tcp_layer.async_connect(shared_.endpoint, net::redirect_error(net::use_awaitable, ec));
    if (!ec) {
      tcp_layer.socket().set_option(tcp::no_delay(true), ec);
      ec = {};
      const std::string auth = device_.auth;
      ws_.set_option(websocket::stream_base::decorator([auth](websocket::request_type& req) {
        req.set(http::field::authorization, auth);
        req.set(http::field::user_agent, "latchkey_relay_loadgen");
      }));
      websocket::response_type res;
      co_await ws_.async_handshake(res, shared_.host_header, "/v1/websocket",
                                   net::redirect_error(net::use_awaitable, ec));
      if (ec) {
        handshake_status_ = static_cast<int>(res.result_int());
        if (handshake_status_) ec_text_ = "HTTP " + std::to_string(handshake_status_) + " " + res.body();
      }
    }
    if (ec) {
      if (ec_text_.empty()) ec_text_ = ec.message();
      shared_.error("GET /v1/websocket (" + account_.uuid + "." + std::to_string(device_.id) + "): " + ec_text_);
      state_.store(WsState::kFailed, std::memory_order_release);
      notify_connected();
      co_return;
    }
    tcp_layer.expires_never();
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
    ws_.text(true);
    ws_.read_message_max(1 << 20);
    state_.store(WsState::kOpen, std::memory_order_release);
    if (close_requested_) kick_writer();

    beast::flat_buffer buffer;
    for (;;) {
      co_await ws_.async_read(buffer, net::redirect_error(net::use_awaitable, ec));
      if (ec) break;
      const auto data = buffer.data();
      on_frame(std::string_view(static_cast<const char*>(data.data()), data.size()));
      buffer.consume(buffer.size());
    }
    if (ec == websocket::error::closed) {
      auto reason = ws_.reason();
      close_info_ = std::to_string(reason.code) + " " + std::string(reason.reason.c_str());
    } else {
      close_info_ = ec.message();
    }
    if (!close_requested_) {
      shared_.error("socket " + account_.uuid + "." + std::to_string(device_.id) + " closed by the server: " +
                    close_info_);
      unexpected_close_ = true;
    }
    const bool was_ready = ready();
    state_.store(WsState::kClosed, std::memory_order_release);
    if (!was_ready) notify_connected();
    ack_timer_.cancel();
    window_timer_.cancel();
  }

  void notify_connected() {
    if (done_connecting_) {
      auto f = std::move(done_connecting_);
      done_connecting_ = nullptr;
      f();
    }
  }

  void on_frame(std::string_view frame) {
    auto type = string_field(frame, "type");
    if (type && *type == "envelope") {
      on_envelope(frame);
      return;
    }
    if (type && *type == "queue_empty") {
      if (state() == WsState::kOpen) {
        before_empty_.store(received_.load(std::memory_order_relaxed), std::memory_order_relaxed);
        queue_empty_seen_ = true;
        state_.store(WsState::kReady, std::memory_order_release);
        check_drained();
        notify_connected();
      }
      return;
    }
    if (type && *type == "send_result") {
      on_send_result(frame);
      return;
    }
    shared_.unexpected_frames.fetch_add(1);
    shared_.error("unexpected frame on " + account_.uuid + "." + std::to_string(device_.id) + ": " +
                  std::string(frame.substr(0, 400)));
  }

  void on_envelope(std::string_view frame) {
    const std::int64_t now = now_ns();
    auto id = uint_field(frame, "id");
    auto content = string_field(frame, "content");
    if (!id || !content) {
      ++bad_content_;
      shared_.error("envelope without id or content: " + std::string(frame.substr(0, 300)));
      return;
    }
    received_.fetch_add(1, std::memory_order_relaxed);
    shared_.received_envelopes.fetch_add(1, std::memory_order_relaxed);
    if (auto h = parse_content_header(*content)) {
      if (shared_.in_window(h->start_ns)) latency_us_.push_back(to_us(now - h->start_ns));
      if (shared_.in_window(now)) ++in_window_;
    } else {
      ++bad_content_;
    }
    pending_acks_.push_back(*id);
    if (static_cast<int>(pending_acks_.size()) >= shared_.opt.ack_batch) {
      ack_now_ = true;
      kick_writer();
    } else if (!ack_armed_) {
      ack_armed_ = true;
      ack_timer_.expires_after(seconds(shared_.opt.ack_delay_s));
      ack_timer_.async_wait([this](beast::error_code ec) {
        ack_armed_ = false;
        if (ec) return;
        ack_now_ = true;
        kick_writer();
      });
    }
  }

  void check_drained() {
    if (queue_empty_seen_ && pending_acks_.empty() && !writing_ && !drained_.load(std::memory_order_relaxed)) {
      drained_at_ns_.store(now_ns(), std::memory_order_relaxed);
      drained_.store(true, std::memory_order_release);
    }
  }

  // Starts the writer when there is something to write and no write in flight.
  void kick_writer() {
    if (writing_) return;
    const WsState s = state();
    if (s != WsState::kOpen && s != WsState::kReady) return;
    bool work = !out_.empty() || (ack_now_ && !pending_acks_.empty()) || (close_requested_ && !close_sent_);
    if (!work) {
      check_drained();
      return;
    }
    writing_ = true;
    net::co_spawn(ws_.get_executor(), writer(), net::detached);
  }

  std::string take_ack_frame() {
    std::string f = R"({"type":"ack","ids":[)";
    const std::size_t n = std::min<std::size_t>(pending_acks_.size(), 1000);
    char num[24];
    for (std::size_t i = 0; i < n; ++i) {
      if (i) f += ',';
      auto [p, ec] = std::to_chars(num, num + sizeof num, pending_acks_[i]);
      f.append(num, p);
    }
    f += "]}";
    pending_acks_.erase(pending_acks_.begin(), pending_acks_.begin() + static_cast<std::ptrdiff_t>(n));
    acked_ids_ += n;
    ++ack_frames_;
    return f;
  }

  // The next frame to write, or an empty string.
  std::string next_frame() {
    if (ack_now_ && !pending_acks_.empty()) {
      std::string frame = take_ack_frame();
      if (pending_acks_.empty()) ack_now_ = false;
      return frame;
    }
    if (!out_.empty()) {
      std::string frame = std::move(out_.front());
      out_.pop_front();
      return frame;
    }
    if (close_requested_ && !pending_acks_.empty()) return take_ack_frame();  // acknowledge everything before closing
    return {};
  }

  // As the server does (net/server.cc, WsChannel): the frames due now leave in one socket write.
  net::awaitable<void> writer() {
    beast::error_code ec;
    for (;;) {
      std::string frame = next_frame();
      if (frame.empty()) break;
      auto& layer = ws_.next_layer();
      layer.hold();
      std::size_t gathered = 0;
      while (!frame.empty() && !ec) {
        gathered += frame.size();
        co_await ws_.async_write(net::buffer(frame), net::redirect_error(net::use_awaitable, ec));
        frame = !ec && gathered < latchkey::kCoalescingGatherBytes ? next_frame() : std::string();
      }
      beast::error_code flushed;
      co_await layer.async_flush(net::redirect_error(net::use_awaitable, flushed));
      if (!ec) ec = flushed;
      if (ec) break;
    }
    if (!ec && close_requested_ && !close_sent_) {
      close_sent_ = true;
      co_await ws_.async_close(websocket::close_code::normal, net::redirect_error(net::use_awaitable, ec));
    }
    writing_ = false;
    if (ec) {
      if (!close_requested_) shared_.error("socket write failed: " + ec.message());
      co_return;
    }
    if (!close_sent_) kick_writer();
    check_drained();
  }

  // --send-via ws: --ws-window send frames in flight; each answered by a send_result with its requestId.
  net::awaitable<void> send_loop() {
    net::steady_timer pace(ws_.get_executor());
    Ticket t;
    while (state() == WsState::kReady && take_ticket(shared_, &t)) {
      if (t.due_ns) {
        std::int64_t now = now_ns();
        if (t.due_ns > now) {
          pace.expires_after(std::chrono::nanoseconds(t.due_ns - now));
          beast::error_code ec;
          co_await pace.async_wait(net::redirect_error(net::use_awaitable, ec));
        }
      }
      while (inflight_ >= shared_.opt.ws_window && state() == WsState::kReady) {
        window_timer_.expires_at(Clock::time_point::max());
        beast::error_code ec;
        co_await window_timer_.async_wait(net::redirect_error(net::use_awaitable, ec));
      }
      if (state() != WsState::kReady) break;
      const std::int64_t started = now_ns();
      if (t.due_ns && started - t.due_ns > 1'000'000) ++send_stats_.late;
      const std::int64_t start_ns = t.due_ns ? t.due_ns : started;
      if (t.due_ns && shared_.in_window(start_ns))
        send_stats_.start_lag_us.push_back(to_us(started - start_ns));
      const Account& to = (*recipients_)[t.ticket % recipients_->size()];
      // requestId: ticket.start_ns.devices (at most 64 bytes), so the answer needs no lookup table.
      std::string request_id =
          std::to_string(t.ticket) + "." + std::to_string(start_ns) + "." + std::to_string(to.devices.size());
      out_.push_back(ws_send_frame(shared_, to, content_header_b64(start_ns, t.ticket), request_id));
      ++inflight_;
      kick_writer();
    }
    // Wait for the answers still due (bounded: the socket closes at the end of the run at the latest).
    while (inflight_ > 0 && state() == WsState::kReady) {
      window_timer_.expires_at(Clock::time_point::max());
      beast::error_code ec;
      co_await window_timer_.async_wait(net::redirect_error(net::use_awaitable, ec));
    }
    shared_.senders_done.fetch_add(1);
  }

  void on_send_result(std::string_view frame) {
    const std::int64_t now = now_ns();
    if (inflight_ > 0) --inflight_;
    window_timer_.cancel();
    auto request_id = string_field(frame, "requestId");
    auto status = uint_field(frame, "status");
    std::uint64_t ticket = 0, devices = 0;
    std::int64_t start_ns = 0;
    bool parsed = false;
    if (request_id) {
      std::string id(*request_id);
      parsed = std::sscanf(id.c_str(), "%" SCNu64 ".%" SCNd64 ".%" SCNu64, &ticket, &start_ns, &devices) == 3;
    }
    if (!parsed || !status || *status != 200) {
      shared_.send_errors.fetch_add(1);
      shared_.error("send frame answered: " + std::string(frame.substr(0, 400)));
      return;
    }
    shared_.expected_envelopes.fetch_add(devices);
    shared_.sends_ok.fetch_add(1);
    if (shared_.in_window(start_ns)) {
      send_stats_.send_us.push_back(to_us(now - start_ns));
      ++send_stats_.ok_in_window;
    }
  }

  net::io_context& ctx_;
  Shared& shared_;
  const Account& account_;
  const Device& device_;
  TcpStream tcp_;
  websocket::stream<latchkey::CoalescingStream<TcpStream>> ws_;
  net::steady_timer ack_timer_;
  net::steady_timer window_timer_;
  std::atomic<WsState> state_{WsState::kIdle};
  std::atomic<bool> drained_{false};
  std::atomic<std::int64_t> drained_at_ns_{0};
  std::atomic<std::uint64_t> received_{0};
  std::atomic<std::uint64_t> before_empty_{0};
  std::function<void()> done_connecting_;
  std::vector<std::uint64_t> pending_acks_;
  std::deque<std::string> out_;
  const std::vector<Account>* recipients_ = nullptr;
  std::vector<std::uint32_t> latency_us_;
  SendStats send_stats_;
  std::uint64_t in_window_ = 0, bad_content_ = 0, ack_frames_ = 0, acked_ids_ = 0;
  int inflight_ = 0;
  int handshake_status_ = 0;
  std::string ec_text_, close_info_;
  bool ack_armed_ = false, ack_now_ = false, writing_ = false, close_requested_ = false, close_sent_ = false;
  bool queue_empty_seen_ = false, unexpected_close_ = false;
};

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// --------------------------------------------------------------------------------------------------------
// Machine check: how fast this machine is right now, for comparing runs taken minutes apart (its speed drifts;
// docs/performance.md, "Run-to-run spread"). Two threads play ping-pong with 1 KiB messages over a loopback TCP
// connection with blocking sockets: each round trip is two sends, two receives and two thread wake-ups, the kind
// of work the relay does per envelope. Answers round trips per second and the round-trip time (count, and the
// quantiles in microseconds), or an error text.
// Then two compute probes on one thread, because the machine's compute speed drifts too and the ping-pong does not
// show it (docs/performance.md, "Machine check"): SHA-256 of 1 KiB, and an insert of a 1 KiB row into an indexed
// SQLite table in memory (the storage writer's kind of work). Each is the best of five timed batches, so a
// batch that lost its core to another thread does not count.

struct MachineCheck {
  std::string error;
  double seconds = 0;
  Summary rtt_us;  // summarize() of nanoseconds: its "ms" fields are microseconds; count = round trips
  double sha256_1k_ns = 0;      // per call, best batch
  double sqlite_insert_us = 0;  // per row, best batch; 0 if SQLite could not be used
};

// The best (smallest) time per operation over five batches of `n` calls of `op`, in nanoseconds.
template <class Op>
double best_of_five_ns(int n, Op&& op) {
  double best = 0;
  for (int batch = 0; batch < 5; ++batch) {
    const auto start = Clock::now();
    for (int i = 0; i < n; ++i) op(i);
    const double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / n;
    if (batch == 0 || ns < best) best = ns;
  }
  return best;
}

void probe_compute(MachineCheck& r) {
  std::vector<unsigned char> block(1024, 0x5a);
  unsigned char digest[crypto_hash_sha256_BYTES];
  r.sha256_1k_ns = best_of_five_ns(2000, [&](int i) {
    block[0] = static_cast<unsigned char>(i);
    crypto_hash_sha256(digest, block.data(), block.size());
  });
  sqlite3* db = nullptr;
  if (sqlite3_open(":memory:", &db) != SQLITE_OK) {
    sqlite3_close(db);
    return;
  }
  sqlite3_stmt* insert = nullptr;
  if (sqlite3_exec(db, "CREATE TABLE t (id INTEGER PRIMARY KEY, k TEXT, v BLOB); CREATE INDEX t_k ON t (k, id)",
                   nullptr, nullptr, nullptr) == SQLITE_OK &&
      sqlite3_prepare_v2(db, "INSERT INTO t (k, v) VALUES (?1, ?2)", -1, &insert, nullptr) == SQLITE_OK) {
    const std::string key = "00000000-0000-4000-8000-0000000000";  // a uuid's length, 64 keys
    bool failed = sqlite3_exec(db, "BEGIN", nullptr, nullptr, nullptr) != SQLITE_OK;
    const double ns = best_of_five_ns(2000, [&](int i) {
      std::string k = key + std::to_string(10 + i % 64);
      sqlite3_bind_text(insert, 1, k.data(), static_cast<int>(k.size()), SQLITE_TRANSIENT);
      sqlite3_bind_blob(insert, 2, block.data(), static_cast<int>(block.size()), SQLITE_STATIC);
      failed = sqlite3_step(insert) != SQLITE_DONE || failed;
      sqlite3_reset(insert);
    });
    if (!failed) r.sqlite_insert_us = ns / 1000;
  }
  sqlite3_finalize(insert);
  sqlite3_close(db);
}

MachineCheck check_machine(double duration_s) {
  MachineCheck r;
  constexpr std::size_t kMessage = 1024;
  auto fail = [&](const char* what) {
    r.error = std::string(what) + ": " + std::strerror(errno);
    return r;
  };
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listener < 0) return fail("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(listener, 1) != 0 ||
      ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(listener);
    return fail("listen");
  }
  const int a = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (a < 0 || ::connect(a, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(listener);
    if (a >= 0) ::close(a);
    return fail("connect");
  }
  const int b = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  ::close(listener);
  if (b < 0) {
    ::close(a);
    return fail("accept");
  }
  const int one = 1;
  ::setsockopt(a, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  ::setsockopt(b, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  // Whole messages, or false at end of stream or on an error.
  auto exchange = [](int fd, char* buf, bool send_first) {
    auto all = [&](auto op) {
      for (std::size_t done = 0; done < kMessage;) {
        const ssize_t n = op(buf + done, kMessage - done);
        if (n <= 0) return false;
        done += static_cast<std::size_t>(n);
      }
      return true;
    };
    auto send_all = [&] { return all([&](char* p, std::size_t n) { return ::send(fd, p, n, MSG_NOSIGNAL); }); };
    auto recv_all = [&] { return all([&](char* p, std::size_t n) { return ::recv(fd, p, n, 0); }); };
    return send_first ? send_all() && recv_all() : recv_all() && send_all();
  };
  std::thread echo([b, &exchange] {
    std::vector<char> buf(kMessage);
    while (exchange(b, buf.data(), /*send_first=*/false)) {
    }
  });
  std::vector<char> buf(kMessage, 'x');
  std::vector<std::uint32_t> rtt_ns;
  const auto start = Clock::now();
  const auto end = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(duration_s));
  for (auto t = start; t < end && rtt_ns.size() < 10'000'000;) {
    if (!exchange(a, buf.data(), /*send_first=*/true)) {
      r.error = "the echo side closed";
      break;
    }
    const auto now = Clock::now();
    rtt_ns.push_back(static_cast<std::uint32_t>(
        std::min<std::int64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now - t).count(), UINT32_MAX)));
    t = now;
  }
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  ::shutdown(a, SHUT_RDWR);
  echo.join();
  ::close(a);
  ::close(b);
  r.rtt_us = summarize(rtt_ns);
  if (r.error.empty()) probe_compute(r);
  return r;
}

// --------------------------------------------------------------------------------------------------------
// Runtime: one io_context per thread; objects are spread over them round-robin.

class Runtime {
 public:
  explicit Runtime(int threads) {
    for (int i = 0; i < threads; ++i) {
      ctxs_.push_back(std::make_unique<net::io_context>(1));
      guards_.emplace_back(net::make_work_guard(*ctxs_.back()));
    }
    for (auto& c : ctxs_) threads_.emplace_back([ctx = c.get()] { ctx->run(); });
  }
  ~Runtime() { stop(); }
  net::io_context& pick() { return *ctxs_[next_++ % ctxs_.size()]; }
  void stop() {
    guards_.clear();
    for (auto& c : ctxs_) c->stop();
    for (auto& t : threads_)
      if (t.joinable()) t.join();
  }

 private:
  std::vector<std::unique_ptr<net::io_context>> ctxs_;
  std::vector<net::executor_work_guard<net::io_context::executor_type>> guards_;
  std::vector<std::thread> threads_;
  std::size_t next_ = 0;
};

// Polls `done` every millisecond until it holds or `timeout_s` passed; answers whether it held.
bool wait_until(const std::function<bool()>& done, double timeout_s) {
  const auto deadline = Clock::now() + seconds(timeout_s);
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

void log(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void log(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  std::fprintf(stderr, "latchkey_relay_loadgen: ");
  std::vfprintf(stderr, fmt, ap);
  std::fprintf(stderr, "\n");
  va_end(ap);
}

// Registers accounts.size() accounts, account i with device_counts[i] devices. False (errors reported) when one
// failed or the set-up took longer than --setup-timeout; the caller then stops the runtime and exits.
bool set_up_accounts(Runtime& rt, Shared& shared, std::vector<Account>& accounts, std::vector<int>& device_counts) {
  std::atomic<std::size_t> next{0}, done{0}, failed{0};
  std::atomic<int> exited{0};
  // Leaked on failure: their coroutines may still be suspended when the caller stops the runtime.
  auto* workers = new std::vector<std::unique_ptr<Registrar>>();
  const int n = std::min<int>(shared.opt.register_concurrency, static_cast<int>(accounts.size()));
  for (int i = 0; i < n; ++i) {
    net::io_context& ctx = rt.pick();
    workers->push_back(std::make_unique<Registrar>(ctx.get_executor(), shared, accounts, device_counts, next, done,
                                                   failed, exited, i));
    net::co_spawn(ctx, workers->back()->run(), net::detached);
  }
  bool finished = wait_until([&] { return exited.load() >= n || failed.load() > 0; }, shared.opt.setup_timeout_s);
  if (!finished || failed.load() > 0) {
    log("account set-up failed: %zu of %zu accounts done, %zu failed%s", done.load(), accounts.size(),
        failed.load(), finished ? "" : " (--setup-timeout reached)");
    rt.stop();
    return false;
  }
  delete workers;
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt = parse_options(argc, argv);
  if (!latchkey::initialize_crypto()) {
    std::fprintf(stderr, "latchkey_relay_loadgen: libsodium failed to initialise\n");
    return 2;
  }
  // Thousands of sockets: raise the soft fd limit to the hard one.
  rlimit fd_limit{};
  if (getrlimit(RLIMIT_NOFILE, &fd_limit) == 0 && fd_limit.rlim_cur < fd_limit.rlim_max) {
    fd_limit.rlim_cur = fd_limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &fd_limit);
    getrlimit(RLIMIT_NOFILE, &fd_limit);
  }

  Shared shared;
  shared.opt = opt;
  std::random_device rd;
  shared.seed = opt.seed ? opt.seed
                         : (static_cast<std::uint64_t>(rd()) << 32) ^ rd() ^
                               static_cast<std::uint64_t>(Clock::now().time_since_epoch().count());
  shared.number_base = std::mt19937_64(shared.seed)() % kNumberSpace;
  shared.host_header = opt.host + ":" + opt.port;
  {
    net::io_context resolve_ctx;
    tcp::resolver resolver(resolve_ctx);
    beast::error_code ec;
    auto results = resolver.resolve(opt.host, opt.port, ec);
    if (ec || results.empty()) {
      log("cannot resolve %s:%s: %s", opt.host.c_str(), opt.port.c_str(), ec.message().c_str());
      return 2;
    }
    shared.endpoint = results.begin()->endpoint();
  }
  {
    const net::ip::address server = shared.endpoint.address();
    const bool loopback_v4 = server.is_v4() && server.is_loopback();
    int n = opt.source_addresses;
    if (n == 0 && opt.scenario == Scenario::kIdle)
      n = (opt.connections + kSocketsPerSourceAddress - 1) / kSocketsPerSourceAddress;
    if (n > 1 && !loopback_v4) {
      log("--source-addresses needs a 127.x server address (--host), not %s", opt.host.c_str());
      return 2;
    }
    if (n > 1) {
      for (int i = 1; i <= n; ++i) shared.sources.push_back(net::ip::make_address_v4(0x7f000000u + i));
      log("spreading the WebSocket connections over %zu source addresses (127.0.0.1 to %s)",
          shared.sources.size(), shared.sources.back().to_string().c_str());
    }
  }
  Outbox outbox(opt.outbox);
  shared.outbox = &outbox;
  {
    std::mt19937_64 rng(shared.seed ^ 0x5eed);
    std::string rest(static_cast<std::size_t>(opt.content_bytes) - kHeaderBytes, '\0');
    for (char& c : rest) c = static_cast<char>(rng() & 0xff);
    shared.content_rest_b64 = base64_encode(rest);
  }

  json out;
  out["scenario"] = scenario_name(opt.scenario);
  out["host"] = opt.host;
  out["port"] = opt.port;
  out["threads"] = opt.threads;
  out["fd_limit"] = static_cast<std::uint64_t>(fd_limit.rlim_cur);
  bool ok = true;
  FILE* table = stderr;
  const std::string server_pid = opt.server_pid ? std::to_string(opt.server_pid) : std::string();

  if (opt.machine_check_s > 0) {
    const MachineCheck c = check_machine(opt.machine_check_s);
    if (!c.error.empty()) {
      log("machine check failed: %s", c.error.c_str());
      out["machine_check"] = {{"error", c.error}};
    } else {
      const double per_s = static_cast<double>(c.rtt_us.count) / std::max(c.seconds, 1e-9);
      log("machine check: loopback 1 KiB ping-pong, %.0f round trips/s, round trip p50 %.1f us, p99 %.1f us; "
          "SHA-256 of 1 KiB %.0f ns, SQLite 1 KiB insert %.2f us",
          per_s, c.rtt_us.p50, c.rtt_us.p99, c.sha256_1k_ns, c.sqlite_insert_us);
      out["machine_check"] = {{"round_trips_per_second", std::round(per_s)},
                              {"rtt_p50_us", round3(c.rtt_us.p50)},
                              {"rtt_p99_us", round3(c.rtt_us.p99)},
                              {"seconds", round3(c.seconds)},
                              {"sha256_1k_ns", std::round(c.sha256_1k_ns)},
                              {"sqlite_insert_us", round3(c.sqlite_insert_us)}};
    }
  }

  Runtime rt(opt.threads);
  std::vector<Account> recipients, senders, idle_accounts;
  std::vector<std::unique_ptr<WsConn>> receivers, ws_senders, verifiers;
  std::vector<std::unique_ptr<HttpSender>> http_senders;

  // ---------------------------------------------------------------------------------------------------------
  // Set-up
  const auto setup_started = Clock::now();
  if (opt.scenario == Scenario::kIdle) {
    const int per = opt.idle_devices;
    const int n_accounts = (opt.connections + per - 1) / per;
    idle_accounts.resize(static_cast<std::size_t>(n_accounts));
    std::vector<int> counts(static_cast<std::size_t>(n_accounts), per);
    counts.back() = opt.connections - per * (n_accounts - 1);
    log("set-up: registering %d accounts with up to %d devices each (%d devices)", n_accounts, per, opt.connections);
    ok = set_up_accounts(rt, shared, idle_accounts, counts);
  } else {
    // Recipients first, then senders, registered together.
    std::vector<Account> all(static_cast<std::size_t>(opt.recipients + opt.senders));
    std::vector<int> counts(all.size(), 1);
    for (int i = 0; i < opt.recipients; ++i) counts[static_cast<std::size_t>(i)] = opt.devices;
    log("set-up: registering %d recipient accounts with %d device(s) each and %d sender accounts", opt.recipients,
        opt.devices, opt.senders);
    ok = set_up_accounts(rt, shared, all, counts);
    if (ok) recipients.assign(all.begin(), all.begin() + opt.recipients);
    if (ok) senders.assign(all.begin() + opt.recipients, all.end());
  }
  const double setup_s = std::chrono::duration<double>(Clock::now() - setup_started).count();
  out["setup_s"] = round3(setup_s);
  if (!ok) {
    rt.stop();
    out["ok"] = false;
    out["error_samples"] = shared.error_samples;
    if (opt.json) std::printf("%s\n", out.dump().c_str());
    std::fflush(stdout);
    std::_Exit(1);
  }
  log("set-up done in %.1fs", setup_s);

  // Connects `conns` with at most --connect-concurrency handshakes in flight; answers when every socket is
  // ready (queue_empty) or failed, or the timeout passed.
  auto connect_all = [&](std::vector<std::unique_ptr<WsConn>>& conns, double timeout_s) {
    std::atomic<int> in_flight{0};
    const auto deadline = Clock::now() + seconds(timeout_s);
    for (auto& c : conns) {
      while (in_flight.load() >= opt.connect_concurrency && Clock::now() < deadline)
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      in_flight.fetch_add(1);
      c->start([&in_flight] { in_flight.fetch_sub(1); });
    }
    bool all = wait_until(
        [&] {
          for (auto& c : conns) {
            auto s = c->state();
            if (s != WsState::kReady && s != WsState::kFailed && s != WsState::kClosed) return false;
          }
          return true;
        },
        std::chrono::duration<double>(deadline - Clock::now()).count());
    // in_flight is referenced by the callbacks: wait until none is pending.
    wait_until([&] { return in_flight.load() == 0; }, 10);
    std::size_t ready = 0;
    for (auto& c : conns) ready += c->ready() ? 1 : 0;
    return all && ready == conns.size();
  };
  auto close_all = [&](std::vector<std::unique_ptr<WsConn>>& conns, double timeout_s) {
    for (auto& c : conns) c->close();
    return wait_until(
        [&] {
          for (auto& c : conns) {
            auto s = c->state();
            if (s != WsState::kClosed && s != WsState::kFailed) return false;
          }
          return true;
        },
        timeout_s);
  };

  // ---------------------------------------------------------------------------------------------------------
  if (opt.scenario == Scenario::kIdle) {
    std::vector<std::pair<const Account*, const Device*>> devices;
    for (const Account& a : idle_accounts)
      for (const Device& d : a.devices) devices.emplace_back(&a, &d);
    receivers.reserve(devices.size());
    for (auto& [a, d] : devices) receivers.push_back(std::make_unique<WsConn>(rt.pick(), shared, *a, *d));

    std::this_thread::sleep_for(std::chrono::seconds(1));  // let the set-up's connections close
    ProcStatus server_before, server_after, server_after_close;
    if (!server_pid.empty()) server_before = read_status(server_pid);
    ProcStatus self_before = read_status("self");
    const double cpu_before = cpu_seconds_self();
    CpuSnap connect_a = cpu_snap(server_pid);
    const auto connect_started = Clock::now();
    log("idle: opening %zu authenticated sockets in two halves (%d handshakes in flight at most)", receivers.size(),
        opt.connect_concurrency);
    // Two halves, with the server's RSS read after each: the second half's growth is not flattered by memory the
    // set-up freed (which the first sockets may reuse without the RSS growing).
    const std::size_t half = receivers.size() / 2;
    std::vector<std::unique_ptr<WsConn>> second(std::make_move_iterator(receivers.begin() + half),
                                               std::make_move_iterator(receivers.end()));
    receivers.resize(half);
    bool all_ready = connect_all(receivers, std::max(60.0, opt.timeout_s * 6));
    double connect_s = std::chrono::duration<double>(Clock::now() - connect_started).count();
    CpuSnap connect_a2 = cpu_snap(server_pid);
    std::this_thread::sleep_for(std::chrono::seconds(1));
    CpuSnap connect_b1 = cpu_snap(server_pid);
    ProcStatus server_mid;
    if (!server_pid.empty()) server_mid = read_status(server_pid);
    const std::size_t ready_first = [&] {
      std::size_t n = 0;
      for (auto& c : receivers) n += c->ready() ? 1 : 0;
      return n;
    }();
    const auto second_started = Clock::now();
    all_ready = connect_all(second, std::max(60.0, opt.timeout_s * 6)) && all_ready;
    connect_s += std::chrono::duration<double>(Clock::now() - second_started).count();
    for (auto& c : second) receivers.push_back(std::move(c));
    const double connect_cpu = cpu_seconds_self() - cpu_before;
    CpuSnap connect_b = cpu_snap(server_pid);
    std::size_t ready = 0;
    for (auto& c : receivers) ready += c->ready() ? 1 : 0;
    log("idle: %zu of %zu sockets ready (queue_empty) in %.2fs; holding %.1fs", ready, receivers.size(), connect_s,
        opt.hold_s);
    std::this_thread::sleep_for(seconds(opt.hold_s));
    std::size_t still_open = 0;
    for (auto& c : receivers) still_open += c->ready() ? 1 : 0;
    if (!server_pid.empty()) server_after = read_status(server_pid);
    ProcStatus self_after = read_status("self");
    const double hold_cpu = cpu_seconds_self() - cpu_before - connect_cpu;
    log("idle: closing");
    bool closed = close_all(receivers, 60);
    std::this_thread::sleep_for(std::chrono::seconds(1));
    if (!server_pid.empty()) server_after_close = read_status(server_pid);
    ok = all_ready && still_open == receivers.size() && closed;

    const double n = static_cast<double>(std::max<std::size_t>(still_open, 1));
    json idle;
    idle["connections"] = receivers.size();
    idle["accounts"] = idle_accounts.size();
    idle["devices_per_account"] = opt.idle_devices;
    idle["source_addresses"] = std::max<std::size_t>(shared.sources.size(), 1);
    idle["ready"] = ready;
    idle["open_after_hold"] = still_open;
    idle["connect_s"] = round3(connect_s);
    idle["connects_per_second"] = round3(static_cast<double>(ready) / std::max(connect_s, 1e-9));
    idle["hold_s"] = opt.hold_s;
    if (!server_pid.empty()) {
      idle["server_rss_before_kb"] = server_before.rss_kb;
      idle["server_rss_after_kb"] = server_after.rss_kb;
      idle["server_rss_after_close_kb"] = server_after_close.rss_kb;
      idle["server_threads_before"] = server_before.threads;
      idle["server_threads_after"] = server_after.threads;
      idle["server_vmhwm_kb"] = server_after_close.hwm_kb;
      idle["server_bytes_per_connection"] =
          std::round(static_cast<double>(server_after.rss_kb - server_before.rss_kb) * 1024.0 / n);
      idle["server_rss_half_kb"] = server_mid.rss_kb;
      idle["server_bytes_per_connection_second_half"] =
          std::round(static_cast<double>(server_after.rss_kb - server_mid.rss_kb) * 1024.0 /
                     static_cast<double>(std::max<std::size_t>(1, still_open - std::min(still_open, ready_first))));
    }
    idle["loadgen_rss_before_kb"] = self_before.rss_kb;
    idle["loadgen_rss_after_kb"] = self_after.rss_kb;
    idle["loadgen_bytes_per_connection"] =
        std::round(static_cast<double>(self_after.rss_kb - self_before.rss_kb) * 1024.0 / n);
    idle["loadgen_cpu_connect_s"] = round3(connect_cpu);
    idle["loadgen_cpu_hold_s"] = round3(hold_cpu);
    idle["loadgen_threads"] = self_after.threads;
    idle["connect_resources"] = cpu_between(connect_a, connect_a2);  // the first half's handshakes
    {
      static const double tck = static_cast<double>(sysconf(_SC_CLK_TCK));
      const double server_cpu_s =
          static_cast<double>(connect_a2.server_ticks - connect_a.server_ticks + connect_b.server_ticks -
                              connect_b1.server_ticks) / tck;
      idle["server_cpu_connect_s"] = round3(server_cpu_s);
      idle["server_cpu_us_per_connect"] = round3(server_cpu_s * 1e6 / std::max<double>(1, static_cast<double>(ready)));
      idle["loadgen_cpu_us_per_connect"] = round3(connect_cpu * 1e6 / std::max<double>(1, static_cast<double>(ready)));
    }
    out["idle"] = idle;

    std::fprintf(table, "\n=== idle authenticated sockets (GET /v1/websocket) ===\n");
    std::fprintf(table, "sockets: %zu (%zu accounts x up to %d devices), ready %zu, still open after %.1fs: %zu\n",
                 receivers.size(), idle_accounts.size(), opt.idle_devices, ready, opt.hold_s, still_open);
    std::fprintf(table, "connect: %.2fs (%.0f sockets/s); CPU per connect: server %.0f us, load generator %.0f us\n",
                 connect_s, static_cast<double>(ready) / std::max(connect_s, 1e-9),
                 idle.value("server_cpu_us_per_connect", 0.0), idle["loadgen_cpu_us_per_connect"].get<double>());
    std::fprintf(table, "first half's handshakes: %s\n", cpu_text(idle["connect_resources"]).c_str());
    if (!server_pid.empty()) {
      std::fprintf(table,
                   "server RSS: %ld KiB before, %ld KiB with the sockets open, %ld KiB after closing; threads %ld -> "
                   "%ld\n",
                   server_before.rss_kb, server_after.rss_kb, server_after_close.rss_kb, server_before.threads,
                   server_after.threads);
      std::fprintf(table, "server memory per idle socket: %.2f KiB (second half alone: %.2f KiB; RSS %ld KiB at half)\n",
                   static_cast<double>(server_after.rss_kb - server_before.rss_kb) / n,
                   static_cast<double>(server_after.rss_kb - server_mid.rss_kb) /
                       static_cast<double>(std::max<std::size_t>(1, still_open - std::min(still_open, ready_first))),
                   server_mid.rss_kb);
    }
    std::fprintf(table, "load generator RSS: %ld -> %ld KiB (%.2f KiB per socket), %ld threads\n", self_before.rss_kb,
                 self_after.rss_kb, static_cast<double>(self_after.rss_kb - self_before.rss_kb) / n,
                 self_after.threads);
  } else {
    // -------------------------------------------------------------------------------------------------------
    // online / offline
    for (const Account& a : recipients)
      for (const Device& d : a.devices) receivers.push_back(std::make_unique<WsConn>(rt.pick(), shared, a, d));
    const bool via_ws = opt.send_via == SendVia::kWs;
    if (via_ws) {
      for (const Account& a : senders)
        ws_senders.push_back(std::make_unique<WsConn>(rt.pick(), shared, a, a.devices.front()));
      if (!connect_all(ws_senders, std::max(30.0, opt.timeout_s * 3))) {
        log("sender sockets did not all connect");
        ok = false;
      }
    } else {
      for (const Account& a : senders)
        http_senders.push_back(std::make_unique<HttpSender>(rt.pick().get_executor(), shared, a, recipients));
    }
    if (ok && opt.scenario == Scenario::kOnline) {
      if (!connect_all(receivers, std::max(30.0, opt.timeout_s * 3))) {
        log("recipient sockets did not all connect");
        ok = false;
      }
    }

    auto start_senders = [&] {
      shared.t0_ns = now_ns();
      shared.measure_start_ns = shared.t0_ns + static_cast<std::int64_t>(opt.warmup_s * 1e9);
      shared.end_ns = shared.measure_start_ns + static_cast<std::int64_t>(opt.duration_s * 1e9);
      if (via_ws) {
        for (auto& s : ws_senders) s->start_sending(&recipients);
      } else {
        for (auto& s : http_senders) net::co_spawn(s->executor(), s->run(), net::detached);
      }
    };
    const int n_senders = opt.senders;
    double cpu_send_start = 0, cpu_send = 0;
    json window_cpu = json::object();
    bool senders_finished = false;
    if (ok) {
      log("%s: %d senders (%s), %zu recipient sockets, rate %s, %.1fs after a %.1fs warm-up",
          scenario_name(opt.scenario), n_senders, via_ws ? "send frames on their sockets" : "PUT /v1/messages",
          receivers.size(), opt.rate > 0 ? std::to_string(opt.rate).c_str() : "max", opt.duration_s, opt.warmup_s);
      cpu_send_start = cpu_seconds_self();
      start_senders();
      // CPU over the measured window only.
      auto sleep_until_ns = [](std::int64_t t) {
        std::int64_t now = now_ns();
        if (t > now) std::this_thread::sleep_for(std::chrono::nanoseconds(t - now));
      };
      sleep_until_ns(shared.measure_start_ns);
      CpuSnap a = cpu_snap(server_pid);
      wait_until([&] { return shared.senders_done.load() >= n_senders || now_ns() >= shared.end_ns; },
                 opt.warmup_s + opt.duration_s + 1);
      CpuSnap b = cpu_snap(server_pid);
      window_cpu = cpu_between(a, b);
      senders_finished = wait_until([&] { return shared.senders_done.load() >= n_senders; },
                                    opt.warmup_s + opt.duration_s + opt.timeout_s + 5);
      if (!senders_finished) {
        shared.stop_sending = true;
        senders_finished = wait_until([&] { return shared.senders_done.load() >= n_senders; }, opt.timeout_s + 5);
        if (!senders_finished) log("senders did not finish in time");
      }
      cpu_send = cpu_seconds_self() - cpu_send_start;
    }
    const double window_s = opt.duration_s;

    // Merge the senders' statistics (they are done; with ws the sockets stay open until the end).
    SendStats sends;
    auto merge_send = [&](SendStats& s) {
      sends.send_us.insert(sends.send_us.end(), s.send_us.begin(), s.send_us.end());
      sends.ok_in_window += s.ok_in_window;
      sends.late += s.late;
      sends.start_lag_us.insert(sends.start_lag_us.end(), s.start_lag_us.begin(), s.start_lag_us.end());
    };

    json result;
    result["send_via"] = via_ws ? "ws" : "http";
    result["recipients"] = opt.recipients;
    result["devices_per_recipient"] = opt.devices;
    result["recipient_sockets"] = receivers.size();
    result["senders"] = opt.senders;
    if (via_ws) result["ws_window"] = opt.ws_window;
    result["rate_target"] = opt.rate;
    result["content_bytes"] = opt.content_bytes;
    result["ack_batch"] = opt.ack_batch;
    result["ack_delay_ms"] = opt.ack_delay_s * 1e3;
    result["warmup_s"] = opt.warmup_s;
    result["duration_s"] = window_s;

    if (opt.scenario == Scenario::kOnline) {
      // Wait for envelopes still on their way, then close.
      bool all_delivered = wait_until(
          [&] { return shared.received_envelopes.load() >= shared.expected_envelopes.load(); }, opt.grace_s);
      const double cpu_total = cpu_seconds_self() - cpu_send_start;
      close_all(receivers, 10);
      close_all(ws_senders, 10);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      rt.stop();  // every object is quiet now: merge
      for (auto& s : http_senders) merge_send(s->stats());
      for (auto& s : ws_senders) merge_send(s->send_stats());
      std::vector<std::uint32_t> latency;
      std::uint64_t in_window = 0, bad = 0, ack_frames = 0, acked = 0;
      for (auto& r : receivers) {
        latency.insert(latency.end(), r->latency_us().begin(), r->latency_us().end());
        in_window += r->received_in_window();
        bad += r->bad_content();
        ack_frames += r->ack_frames();
        acked += r->acked_ids();
      }
      Summary lat = summarize(latency);
      Summary snd = summarize(sends.send_us);
      const std::uint64_t expected = shared.expected_envelopes.load(), received = shared.received_envelopes.load();
      const double env_per_s = static_cast<double>(in_window) / window_s;
      const double sends_per_s = static_cast<double>(sends.ok_in_window) / window_s;
      result["sends_ok"] = shared.sends_ok.load();
      result["send_errors"] = shared.send_errors.load();
      result["sends_per_second"] = round3(sends_per_s);
      result["envelopes_per_second"] = round3(env_per_s);
      result["envelopes_expected"] = expected;
      result["envelopes_received"] = received;
      result["envelopes_missing"] = expected > received ? expected - received : 0;
      result["envelopes_extra"] = received > expected ? received - expected : 0;
      result["bad_content"] = bad;
      result["late_sends"] = sends.late;
      result["ack_frames"] = ack_frames;
      result["acked_ids"] = acked;
      result["delivery_latency"] = summary_json(lat);
      result["send_latency"] = summary_json(snd);
      if (opt.rate > 0) result["start_lag"] = summary_json(summarize(sends.start_lag_us));
      result["loadgen_cpu_s"] = round3(cpu_total);
      result["resources"] = window_cpu;
      ok = ok && senders_finished && all_delivered && shared.send_errors.load() == 0 && bad == 0 &&
           shared.unexpected_frames.load() == 0;
      out["online"] = result;

      std::fprintf(table, "\n=== online delivery (%s) ===\n",
                   via_ws ? "send frames on the sender's socket" : "PUT /v1/messages/{uuid}");
      std::fprintf(table,
                   "%d senders -> %d recipients x %d device(s), %d-byte content, rate %s, %.1fs measured after "
                   "%.1fs warm-up\n",
                   opt.senders, opt.recipients, opt.devices, opt.content_bytes,
                   opt.rate > 0 ? (std::to_string(static_cast<long long>(opt.rate)) + "/s (open loop)").c_str()
                                : "max",
                   window_s, opt.warmup_s);
      std::fprintf(table, "sends: %.1f/s answered 200 (%llu errors, %llu late by > 1 ms)\n", sends_per_s,
                   static_cast<unsigned long long>(shared.send_errors.load()),
                   static_cast<unsigned long long>(sends.late));
      std::fprintf(table,
                   "envelopes received over the sockets: %.1f/s; %llu expected, %llu received in all (%llu missing)\n",
                   env_per_s, static_cast<unsigned long long>(expected), static_cast<unsigned long long>(received),
                   static_cast<unsigned long long>(expected > received ? expected - received : 0));
      std::fprintf(table, "acks: %llu ids in %llu frames\n", static_cast<unsigned long long>(acked),
                   static_cast<unsigned long long>(ack_frames));
      std::fprintf(table, "%-28s %9s %9s %9s %9s %9s %9s %9s\n", "latency", "count", "mean ms", "p50 ms", "p90 ms",
                   "p99 ms", "p99.9 ms", "max ms");
      auto row = [&](const char* name, const Summary& s) {
        std::fprintf(table, "%-28s %9llu %9.3f %9.3f %9.3f %9.3f %9.3f %9.3f\n", name,
                     static_cast<unsigned long long>(s.count), s.mean, s.p50, s.p90, s.p99, s.p999, s.max);
      };
      row("send start -> receipt", lat);
      row("send start -> 200/send_result", snd);
      if (opt.rate > 0) row("due -> send started (pacing)", summarize(sends.start_lag_us));
      std::fprintf(table, "measured window: %s\n", cpu_text(window_cpu).c_str());
      std::fprintf(table, "load generator CPU from the first send to the last envelope: %.2fs\n", cpu_total);
    } else {
      // Offline: store done; now drain.
      close_all(ws_senders, 10);
      rt.stop();  // senders are done: merge their statistics before anything else runs
      for (auto& s : http_senders) merge_send(s->stats());
      for (auto& s : ws_senders) merge_send(s->send_stats());
      Runtime rt2(opt.threads);
      // The ws senders' sockets belong to the first runtime's contexts, which are stopped: they are closed when
      // destroyed at the end.
      std::vector<std::unique_ptr<WsConn>> drainers;
      for (const Account& a : recipients)
        for (const Device& d : a.devices) drainers.push_back(std::make_unique<WsConn>(rt2.pick(), shared, a, d));
      const std::uint64_t stored = shared.sends_ok.load() * static_cast<std::uint64_t>(opt.devices);
      Summary snd = summarize(sends.send_us);
      const double store_per_s = static_cast<double>(sends.ok_in_window) / window_s;
      log("offline: %llu sends stored (%.1f/s in the window); draining %zu sockets",
          static_cast<unsigned long long>(shared.sends_ok.load()), store_per_s, drainers.size());
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      const double cpu_drain_start = cpu_seconds_self();
      CpuSnap drain_a = cpu_snap(server_pid);
      const std::int64_t drain_started = now_ns();
      std::atomic<int> in_flight{0};
      for (auto& c : drainers) {
        in_flight.fetch_add(1);
        c->start([&in_flight] { in_flight.fetch_sub(1); });
      }
      bool drained = wait_until(
          [&] {
            for (auto& c : drainers)
              if (!c->drained() && c->state() != WsState::kFailed && c->state() != WsState::kClosed) return false;
            return true;
          },
          opt.drain_timeout_s);
      CpuSnap drain_b = cpu_snap(server_pid);
      std::int64_t last = drain_started;
      std::uint64_t drained_envelopes = 0, ack_frames = 0, bad = 0;
      std::size_t drained_sockets = 0;
      for (auto& c : drainers) {
        if (c->drained()) {
          ++drained_sockets;
          last = std::max(last, c->drained_at_ns());
        }
        drained_envelopes += c->received_before_empty();
      }
      const double drain_s = static_cast<double>(last - drain_started) / 1e9;
      const double cpu_drain = cpu_seconds_self() - cpu_drain_start;
      close_all(drainers, 10);
      wait_until([&] { return in_flight.load() == 0; }, 10);
      // Every envelope was acknowledged: a new connection must find the queues empty.
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
      for (const Account& a : recipients)
        for (const Device& d : a.devices) verifiers.push_back(std::make_unique<WsConn>(rt2.pick(), shared, a, d));
      bool verified = connect_all(verifiers, 30);
      std::uint64_t left = 0;
      for (auto& c : verifiers) left += c->received_before_empty();
      // The verifiers acknowledge what they got (if anything) before closing.
      close_all(verifiers, 10);
      rt2.stop();
      for (auto& c : drainers) {
        ack_frames += c->ack_frames();
        bad += c->bad_content();
      }
      const double drain_per_s = drain_s > 0 ? static_cast<double>(drained_envelopes) / drain_s : 0;
      result["sends_ok"] = shared.sends_ok.load();
      result["send_errors"] = shared.send_errors.load();
      result["store_sends_per_second"] = round3(store_per_s);
      result["store_envelopes_per_second"] = round3(store_per_s * opt.devices);
      result["stored_envelopes"] = stored;
      result["send_latency"] = summary_json(snd);
      result["loadgen_cpu_store_s"] = round3(cpu_send);
      result["drain_sockets"] = drainers.size();
      result["drained_sockets"] = drained_sockets;
      result["drained_envelopes"] = drained_envelopes;
      result["drain_s"] = round3(drain_s);
      result["drain_envelopes_per_second"] = round3(drain_per_s);
      result["drain_ack_frames"] = ack_frames;
      result["loadgen_cpu_drain_s"] = round3(cpu_drain);
      result["store_resources"] = window_cpu;
      result["drain_resources"] = cpu_between(drain_a, drain_b);
      result["left_after_ack"] = verified ? json(left) : json(nullptr);  // null: the reconnect check failed
      result["bad_content"] = bad;
      ok = ok && senders_finished && drained && verified && drained_envelopes == stored && left == 0 &&
           shared.send_errors.load() == 0 && bad == 0 && shared.unexpected_frames.load() == 0;
      out["offline"] = result;

      std::fprintf(table, "\n=== offline store and drain (%s) ===\n",
                   via_ws ? "send frames on the sender's socket" : "PUT /v1/messages/{uuid}");
      std::fprintf(table, "store: %d senders -> %d offline recipients x %d device(s), %.1fs after %.1fs warm-up\n",
                   opt.senders, opt.recipients, opt.devices, window_s, opt.warmup_s);
      std::fprintf(table, "store: %.1f sends/s = %.1f envelopes/s stored (%llu stored in all, %llu errors)\n",
                   store_per_s, store_per_s * opt.devices, static_cast<unsigned long long>(stored),
                   static_cast<unsigned long long>(shared.send_errors.load()));
      std::fprintf(table, "store send latency ms: p50 %.3f, p90 %.3f, p99 %.3f, max %.3f\n", snd.p50, snd.p90,
                   snd.p99, snd.max);
      std::fprintf(table,
                   "drain: %zu sockets, %llu envelopes received and acknowledged in %.3fs = %.1f envelopes/s "
                   "(%llu ack frames); %zu of %zu sockets drained\n",
                   drainers.size(), static_cast<unsigned long long>(drained_envelopes), drain_s, drain_per_s,
                   static_cast<unsigned long long>(ack_frames), drained_sockets, drainers.size());
      if (verified)
        std::fprintf(table, "after the drain: %llu envelopes still queued (redelivered on reconnect)\n",
                     static_cast<unsigned long long>(left));
      else
        std::fprintf(table, "after the drain: not checked (the reconnecting sockets did not all reach queue_empty)\n");
      std::fprintf(table, "store window: %s\n", cpu_text(window_cpu).c_str());
      std::fprintf(table, "drain: %s\n", cpu_text(result["drain_resources"]).c_str());
      verifiers.clear();
      drainers.clear();
    }
  }

  rt.stop();
  out["ok"] = ok;
  out["errors"] = shared.total_errors.load();
  {
    std::lock_guard lock(shared.samples_mutex);
    out["error_samples"] = shared.error_samples;
  }
  if (!server_pid.empty()) {
    ProcStatus s = read_status(server_pid);
    out["server_vmhwm_kb"] = s.hwm_kb;
    out["server_threads"] = s.threads;
  }
  if (shared.total_errors.load())
    std::fprintf(table, "errors: %llu (first ones above)\n", static_cast<unsigned long long>(shared.total_errors.load()));
  if (opt.json) std::printf("%s\n", out.dump().c_str());
  if (!opt.json_out.empty()) {
    std::ofstream f(opt.json_out);
    f << out.dump(2) << '\n';
  }
  std::fflush(stdout);
  std::fflush(stderr);
  // Sockets and coroutine frames still reference the stopped io_contexts; the process ends here.
  std::_Exit(ok ? 0 : 1);
}
