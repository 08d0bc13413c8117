#include "net/server.h"

#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include <boost/asio.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include "core/logging.h"
#include "net/coalescing_stream.h"
#include "net/request_metrics.h"

namespace latchkey {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using asio::use_awaitable;

namespace {

// One open connection, as the shutdown sequence sees it.
struct Connection {
  std::atomic<bool> busy{false};   // a request is being read, handled or written

  // How shutdown ends this connection: closes the socket (HTTP) or sends a 1001 close frame (WebSocket).
  void set_close(std::function<void()> f) {
    std::lock_guard lock(close_mutex);
    close_function = std::move(f);
  }
  void close() {
    std::function<void()> f;
    {
      std::lock_guard lock(close_mutex);
      f = close_function;
    }
    if (f) f();
  }

 private:
  std::mutex close_mutex;
  std::function<void()> close_function;  // guarded by close_mutex
};

std::string endpoint_text(const tcp::endpoint& ep) {
  auto addr = ep.address();
  return addr.is_v6() ? "[" + addr.to_string() + "]:" + std::to_string(ep.port())
                      : addr.to_string() + ":" + std::to_string(ep.port());
}

HttpResponse call_handler(const Route& route, HttpRequest& request) {
  try {
    return route.handler(request);
  } catch (const std::exception& e) {
    log::error("handler_failed", {{"route", route.pattern}, {"what", e.what()}});
  } catch (...) {
    log::error("handler_failed", {{"route", route.pattern}, {"what", "unknown exception"}});
  }
  return HttpResponse::error(make_error(ErrorCode::kInternal, "internal error"));
}

// Runs `route` on `pool` and resumes the calling coroutine on its own executor with the response.
// Names the calling thread once (shown by top -H and the benchmark); Asio's thread_pool has no start hook.
void name_pool_thread(const char* name) {
  thread_local bool named = false;
  if (!named) {
    pthread_setname_np(pthread_self(), name);
    named = true;
  }
}

// Runs `f` on `pool` and resumes the calling coroutine on its own executor with f's answer.
template <class T, class Pool, class F>
asio::awaitable<T> on_pool(Pool& pool, const char* pool_name, F f) {
  auto executor = co_await asio::this_coro::executor;
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(T)>(
      [&pool, pool_name, executor, f = std::move(f)](auto handler) mutable {
        auto work = asio::make_work_guard(executor);
        asio::post(pool, [handler = std::move(handler), work = std::move(work), pool_name, f = std::move(f)]() mutable {
          name_pool_thread(pool_name);
          T result = f();
          auto resume_on = asio::get_associated_executor(handler);
          asio::post(resume_on, [handler = std::move(handler), result = std::move(result)]() mutable {
            handler(std::move(result));
          });
        });
      },
      use_awaitable);
}

template <class Pool>
asio::awaitable<HttpResponse> run_on_pool(Pool& pool, const char* pool_name, const Route& route,
                                          HttpRequest& request) {
  co_return co_await on_pool<HttpResponse>(pool, pool_name, [&route, &request] { return call_handler(route, request); });
}

// Calls `start` (which answers through `respond`, now or later) and returns what it returns; if it throws,
// answers 500 and returns true.
template <class Start>
bool start_guarded(const Route& route, const Responder& respond, Start start) {
  try {
    return start();
  } catch (const std::exception& e) {
    log::error("handler_failed", {{"route", route.pattern}, {"what", e.what()}});
    respond(HttpResponse::error(make_error(ErrorCode::kInternal, "internal error")));
    return true;
  }
}

// Starts an async handler: first its inline attempt on this I/O thread, if it has one (`on_inline` is called
// when the attempt takes the request), else on `pool`. The coroutine resumes on its own executor when the
// handler responds.
template <class Pool, class OnInline>
asio::awaitable<HttpResponse> run_async_on_pool(Pool& pool, const char* pool_name, const Route& route,
                                                HttpRequest& request, OnInline on_inline) {
  auto executor = co_await asio::this_coro::executor;
  co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(HttpResponse)>(
      [&pool, pool_name, &route, &request, executor, on_inline](auto handler) mutable {
        using HandlerType = decltype(handler);
        struct State {
          State(HandlerType h, asio::executor_work_guard<asio::any_io_executor> w) : handler(std::move(h)), work(std::move(w)) {}
          HandlerType handler;
          asio::executor_work_guard<asio::any_io_executor> work;
          std::atomic<bool> answered{false};
        };
        auto state = std::make_shared<State>(std::move(handler), asio::make_work_guard(executor));
        Responder respond = [state](HttpResponse response) {
          if (state->answered.exchange(true)) return;
          auto resume_on = asio::get_associated_executor(state->handler);
          asio::post(resume_on, [state, response = std::move(response)]() mutable {
            state->handler(std::move(response));
          });
        };
        if (route.inline_attempt && start_guarded(route, respond, [&] {
              const bool taken = route.inline_attempt(request, respond);
              if (taken) on_inline();
              return taken;
            })) {
          return;
        }
        asio::post(pool, [pool_name, &route, &request, respond = std::move(respond)] {
          name_pool_thread(pool_name);
          start_guarded(route, respond, [&] {
            route.async_handler(request, respond);
            return true;
          });
        });
      },
      use_awaitable);
}

// The server side of one WebSocket connection (net/websocket.h). Frames are queued on the connection's I/O
// thread and written by one write loop at a time; every member below the public interface is touched only on
// that thread.
template <class Stream>
class WsChannel final : public WebSocketChannel, public std::enable_shared_from_this<WsChannel<Stream>> {
 public:
  WsChannel(asio::any_io_executor executor, asio::thread_pool& workers, std::size_t max_queued_frames)
      : executor_(std::move(executor)), workers_(workers), max_queued_frames_(max_queued_frames), idle_(executor_) {}

  void send(std::string text) override {
    asio::post(executor_, [self = this->shared_from_this(), text = std::move(text)]() mutable {
      self->enqueue(std::move(text));
    });
  }

  void close(int code, std::string reason) override {
    asio::post(executor_, [self = this->shared_from_this(), code, reason = std::move(reason)]() mutable {
      self->request_close(code, std::move(reason));
    });
  }

  void post(std::function<void()> task) override {
    asio::post(executor_, [self = this->shared_from_this(), task = std::move(task)] {
      if (!self->ended_) task();
    });
  }

  void post_work(std::function<void()> task) override {
    asio::post(workers_, [task = std::move(task)] {
      name_pool_thread("lk-worker");
      try {
        task();
      } catch (const std::exception& e) {
        log::error("websocket_task_failed", {{"what", e.what()}});
      }
    });
  }

  void schedule(std::chrono::milliseconds delay, std::function<void()> task) override {
    asio::post(executor_, [self = this->shared_from_this(), delay, task = std::move(task)]() mutable {
      if (self->ended_) return;
      auto timer = std::make_shared<asio::steady_timer>(self->executor_, delay);
      self->timers_.push_back(timer);
      timer->async_wait([self, timer, task = std::move(task)](beast::error_code ec) {
        if (!ec && !self->ended_) task();
      });
    });
  }

  // I/O thread only, from the connection's coroutine.
  void attach(websocket::stream<CoalescingStream<Stream>>* ws) {
    ws_ = ws;
    pump();
  }

  // The connection ended: drops queued frames and cancels timers. Answers whether a write is still in flight.
  bool detach() {
    ended_ = true;
    queue_.clear();
    for (auto& timer : timers_) timer->cancel();
    timers_.clear();
    return writing_;
  }

  // Suspends until the write loop has stopped (after detach(), with the socket closed so that it fails fast).
  asio::awaitable<void> wait_idle() {
    while (writing_) {
      idle_.expires_at(asio::steady_timer::time_point::max());
      beast::error_code ec;
      co_await idle_.async_wait(asio::redirect_error(use_awaitable, ec));
    }
  }

 private:
  void enqueue(std::string text) {
    if (ended_ || close_code_) return;
    if (queue_.size() >= max_queued_frames_) {
      // The client does not read fast enough; what it missed is still queued in storage for its next connection.
      queue_.clear();
      request_close(1013, "too many frames waiting; reconnect");
      return;
    }
    queue_.push_back(std::move(text));
    pump();
  }

  void request_close(int code, std::string reason) {
    if (ended_ || close_code_) return;
    close_code_ = code;
    close_reason_ = std::move(reason);
    pump();
  }

  void pump() {
    if (writing_ || ended_ || !ws_) return;
    if (queue_.empty() && (!close_code_ || close_sent_)) return;
    writing_ = true;
    asio::co_spawn(executor_, write_loop(this->shared_from_this()), asio::detached);
  }

  // One socket write in flight: the frames queued so far (up to kCoalescingGatherBytes) are written through Beast
  // into the held CoalescingStream, then leave together in one socket write, which completes before the next group.

  static asio::awaitable<void> write_loop(std::shared_ptr<WsChannel> self) {
    beast::error_code ec;
    while (!self->ended_ && self->ws_) {
      if (!self->queue_.empty()) {
        auto& socket = self->ws_->next_layer();
        socket.hold();
        std::size_t gathered = 0;
        while (!ec && !self->ended_ && !self->queue_.empty() && gathered < kCoalescingGatherBytes) {
          std::string frame = std::move(self->queue_.front());
          self->queue_.pop_front();
          gathered += frame.size();
          co_await self->ws_->async_write(asio::buffer(frame), asio::redirect_error(use_awaitable, ec));
        }
        beast::error_code flushed;
        co_await socket.async_flush(asio::redirect_error(use_awaitable, flushed));
        if (ec || flushed) break;
      } else if (self->close_code_ && !self->close_sent_) {
        self->close_sent_ = true;
        websocket::close_reason reason(static_cast<std::uint16_t>(self->close_code_));
        reason.reason = self->close_reason_;
        co_await self->ws_->async_close(reason, asio::redirect_error(use_awaitable, ec));
        break;
      } else {
        break;
      }
    }
    self->writing_ = false;
    self->idle_.cancel();
  }

  asio::any_io_executor executor_;
  asio::thread_pool& workers_;
  const std::size_t max_queued_frames_;
  asio::steady_timer idle_;
  websocket::stream<CoalescingStream<Stream>>* ws_ = nullptr;
  std::deque<std::string> queue_;
  std::vector<std::shared_ptr<asio::steady_timer>> timers_;
  bool writing_ = false;
  bool ended_ = false;
  int close_code_ = 0;
  bool close_sent_ = false;
  std::string close_reason_;
};

}  // namespace

struct HttpServer::Impl {
  Impl(const ServerConfig& c, const Router& r, MetricsRegistry& m)
      : config(c),
        router(r),
        ioc(1),
        workers(static_cast<std::size_t>(c.worker_threads)),
        outbound(static_cast<std::size_t>(c.outbound_threads)),
        acceptor(ioc),
        signals(ioc, SIGINT, SIGTERM),
        grace_timer(ioc),
        open_connections(m.gauge("latchkey_http_open_connections", "Open client connections")),
        request_metrics(m, r) {}

  const ServerConfig& config;
  const Router& router;
  // One io_context per I/O thread, each run by exactly one thread, so a connection's handlers never run
  // concurrently and no strand is needed. `ioc` (the first) also runs the listener, signals and timers.
  asio::io_context ioc;
  std::vector<std::unique_ptr<asio::io_context>> extra_contexts;  // io_threads - 1 more, built in run()
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>> keep_running;  // released at shutdown
  std::atomic<std::size_t> next_context{0};
  asio::thread_pool workers;
  asio::thread_pool outbound;
  tcp::acceptor acceptor;
  std::optional<asio::ssl::context> tls;
  asio::signal_set signals;
  asio::steady_timer grace_timer;
  std::vector<std::unique_ptr<asio::steady_timer>> periodic_timers;
  std::atomic<bool> stopping{false};
  Gauge& open_connections;
  RequestMetrics request_metrics;

  std::mutex connections_mutex;
  std::unordered_map<std::uint64_t, std::shared_ptr<Connection>> connections;  // guarded by connections_mutex
  std::uint64_t next_connection_id = 0;                                         // guarded by connections_mutex

  std::string client_ip_of(const std::string& peer, const HttpRequest& request) const {
    if (config.client_ip_header.empty()) return peer;
    std::string name = config.client_ip_header;
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    const std::string* forwarded = request.header(name);
    if (!forwarded || forwarded->empty()) return peer;
    // The trusted proxy appends the address it saw; anything before it came from the client and is ignored.
    auto comma = forwarded->rfind(',');
    std::string last = comma == std::string::npos ? *forwarded : forwarded->substr(comma + 1);
    auto b = last.find_first_not_of(" \t");
    auto e = last.find_last_not_of(" \t");
    return b == std::string::npos ? peer : last.substr(b, e - b + 1);
  }

  asio::awaitable<HttpResponse> dispatch(HttpRequest& request, Router::Match& match) {
    if (!match.route) {
      if (!match.allowed_methods.empty()) {
        HttpResponse r = HttpResponse::error(
            make_error(ErrorCode::kMethodNotAllowed, request.method + " is not allowed on this path"));
        r.headers.emplace_back("Allow", match.allowed_methods);
        co_return r;
      }
      co_return HttpResponse::error(make_error(ErrorCode::kNotFound, "no such endpoint"));
    }
    request.path_params = std::move(match.params);
    if (match.route->websocket)
      co_return HttpResponse::error(make_error(ErrorCode::kMalformedRequest, "this endpoint needs a WebSocket upgrade"));
    if (match.route->async_handler) {
      auto count_inline = [this, &route = *match.route] { request_metrics.count_inline(route); };
      if (match.route->pool == HandlerPool::kOutbound)
        co_return co_await run_async_on_pool(outbound, "lk-outbound", *match.route, request, count_inline);
      co_return co_await run_async_on_pool(workers, "lk-worker", *match.route, request, count_inline);
    }
    switch (match.route->pool) {
      case HandlerPool::kInline: co_return call_handler(*match.route, request);
      case HandlerPool::kWorker: co_return co_await run_on_pool(workers, "lk-worker", *match.route, request);
      case HandlerPool::kOutbound: co_return co_await run_on_pool(outbound, "lk-outbound", *match.route, request);
    }
    co_return HttpResponse::error(make_error(ErrorCode::kInternal, "unknown handler pool"));
  }

  template <class Stream>
  asio::awaitable<void> write_error_and_close(Stream& stream, int status, ErrorCode code, const char* message) {
    HttpResponse r = HttpResponse::error(make_error(code, message));
    http::response<http::string_body> res{static_cast<http::status>(status), 11};
    res.set(http::field::content_type, r.content_type);
    res.set(http::field::connection, "close");
    res.body() = std::move(r.body);
    res.prepare_payload();
    beast::get_lowest_layer(stream).expires_after(config.read_timeout);
    beast::error_code ec;
    co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
  }

  // Runs an accepted WebSocket connection until it ends. Called by run_connection() after serve() returned, so
  // that an idle socket keeps no HTTP state: its cost is this frame, Beast's stream and one pending read.
  template <class Stream>
  asio::awaitable<void> run_websocket(Stream& stream, Connection& connection, http::request<http::string_body> upgrade,
                                      std::shared_ptr<WsChannel<Stream>> channel,
                                      std::shared_ptr<WebSocketSession> session) {
    beast::get_lowest_layer(stream).expires_never();
    websocket::stream<CoalescingStream<Stream>> ws(stream);
    websocket::stream_base::timeout timeouts{};
    timeouts.handshake_timeout = config.read_timeout;
    timeouts.idle_timeout = 2 * std::chrono::duration_cast<std::chrono::steady_clock::duration>(config.websocket_ping_interval);
    timeouts.keep_alive_pings = true;
    ws.set_option(timeouts);
    ws.set_option(websocket::stream_base::decorator(
        [](websocket::response_type& res) { res.set(http::field::server, "latchkeyd"); }));
    ws.read_message_max(config.websocket_max_frame_bytes);
    ws.auto_fragment(false);
    beast::error_code ec;
    co_await ws.async_accept(upgrade, asio::redirect_error(use_awaitable, ec));
    upgrade = {};
    if (!ec) {
      channel->attach(&ws);
      std::weak_ptr<WsChannel<Stream>> weak = channel;
      connection.set_close([weak] {
        if (auto c = weak.lock()) c->close(kCloseGoingAway, "shutting down");
      });
      connection.busy = false;
      if (stopping) channel->close(kCloseGoingAway, "shutting down");
      session->on_open();
      beast::flat_buffer buffer;
      for (;;) {
        co_await ws.async_read(buffer, asio::redirect_error(use_awaitable, ec));
        if (ec) break;
        if (ws.got_text()) {
          auto data = buffer.data();
          session->on_text(std::string_view(static_cast<const char*>(data.data()), data.size()));
        } else {
          channel->close(kCloseUnsupportedData, "binary frames are not accepted");
        }
        buffer.consume(buffer.size());
        if (buffer.capacity() > 16384) buffer = beast::flat_buffer();
      }
    }
    if (channel->detach() || ws.next_layer().writing()) {
      beast::error_code ignored;
      beast::get_lowest_layer(stream).socket().close(ignored);  // fails the write in flight at once
      co_await channel->wait_idle();
      // A write Beast started itself (ping, pong) may still be in flight; its completion refers to `ws`.
      co_await ws.next_layer().async_flush(asio::redirect_error(use_awaitable, ignored));
    }
    session->on_closed();
  }

  // A request that was accepted for a WebSocket upgrade: serve() hands it back to run_connection(), which runs
  // the socket after serve()'s coroutine frame (HTTP parser, buffers: about 2 KiB) is gone.
  template <class Stream>
  struct Upgrade {
    http::request<http::string_body> request;
    std::shared_ptr<WsChannel<Stream>> channel;
    std::shared_ptr<WebSocketSession> session;
  };

  // Serves HTTP requests until the connection ends (nullopt) or a WebSocket upgrade was accepted.
  template <class Stream>
  asio::awaitable<std::optional<Upgrade<Stream>>> serve(Stream& stream, Connection& connection, const std::string& peer) {
    std::optional<HttpResponse> response_override;
    beast::flat_buffer buffer(std::max<std::size_t>(8192, config.max_header_bytes));
    for (;;) {
      if (buffer.size() == 0) {
        connection.busy = false;
        if (stopping) co_return std::nullopt;
        beast::get_lowest_layer(stream).expires_after(config.idle_timeout);
        beast::error_code ec;
        std::size_t n = co_await stream.async_read_some(buffer.prepare(4096), asio::redirect_error(use_awaitable, ec));
        if (ec) co_return std::nullopt;
        buffer.commit(n);
      }
      connection.busy = true;
      auto started = std::chrono::steady_clock::now();
      http::request_parser<http::string_body> parser;
      parser.header_limit(static_cast<std::uint32_t>(config.max_header_bytes));
      parser.body_limit(config.max_body_bytes);
      beast::get_lowest_layer(stream).expires_after(config.read_timeout);
      beast::error_code ec;
      // Beast 1.74 applies header_limit only to the unconsumed part of each read, so a header that arrives in
      // pieces is counted here as well. A read stops where the header ends, so this counts header bytes only.
      std::size_t header_bytes = 0;
      while (!ec && !parser.is_header_done()) {
        header_bytes += co_await http::async_read_some(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
        if (!ec && header_bytes > config.max_header_bytes) ec = http::error::header_limit;
      }
      if (!ec && !parser.is_done())
        co_await http::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
      if (ec == http::error::body_limit) {
        request_metrics.record(nullptr, {}, 413, 0);
        co_await write_error_and_close(stream, 413, ErrorCode::kPayloadTooLarge, "the request body is too large");
        co_return std::nullopt;
      }
      if (ec == http::error::header_limit) {
        request_metrics.record(nullptr, {}, 431, 0);
        co_await write_error_and_close(stream, 431, ErrorCode::kMalformedRequest, "the request headers are too large");
        co_return std::nullopt;
      }
      if (ec && ec.category() == http::make_error_code(http::error::bad_target).category() && ec != http::error::end_of_stream &&
          ec != http::error::partial_message) {
        request_metrics.record(nullptr, {}, 400, 0);
        co_await write_error_and_close(stream, 400, ErrorCode::kMalformedRequest, "the request is not valid HTTP/1.1");
        co_return std::nullopt;
      }
      if (ec) co_return std::nullopt;  // closed, reset or timed out mid-request

      auto& req = parser.get();
      HttpRequest request;
      request.method = std::string(req.method_string());
      std::string_view target(req.target().data(), req.target().size());
      auto question = target.find('?');
      request.path = std::string(target.substr(0, question));
      if (question != std::string_view::npos) request.query = std::string(target.substr(question + 1));
      request.headers.reserve(8);
      for (const auto& field : req) {
        std::string name(field.name_string());
        for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        request.headers.emplace_back(std::move(name), std::string(field.value()));
      }
      request.body = std::move(req.body());
      request.client_ip = client_ip_of(peer, request);

      auto match = router.match(request.method, request.path);
      // For the metrics and the access log (match.route may be cleared below).
      const Route* routed = match.route;
      if (match.route && match.route->websocket && websocket::is_upgrade(req)) {
        request.path_params = std::move(match.params);
        auto channel = std::make_shared<WsChannel<Stream>>(co_await asio::this_coro::executor, workers,
                                                           config.websocket_max_queued_frames);
        const Route& route = *match.route;
        auto accepted = co_await on_pool<Result<std::shared_ptr<WebSocketSession>>>(
            workers, "lk-worker",
            // By reference: g++ 12 destroys a by-value capture of a lambda passed to a coroutine twice.
            [&route, &request, &channel]() -> Result<std::shared_ptr<WebSocketSession>> {
              try {
                return route.websocket(request, channel);
              } catch (const std::exception& e) {
                log::error("handler_failed", {{"route", route.pattern}, {"what", e.what()}});
                return make_error(ErrorCode::kInternal, "internal error");
              }
            });
        if (accepted.ok()) {
          request_metrics.record(routed, request.method, 101, 0);
          co_return Upgrade<Stream>{parser.release(), std::move(channel), std::move(*accepted)};
        }
        // Refused before the handshake: answered as plain HTTP below, and the connection may go on.
        match.route = nullptr;
        response_override = HttpResponse::error(accepted.error());
      }
      // (No co_await inside a conditional expression: g++ 12 miscompiles it.)
      HttpResponse response;
      if (response_override) {
        response = std::move(*response_override);
        response_override.reset();
      } else {
        response = co_await dispatch(request, match);
      }

      bool keep_alive = req.keep_alive() && !stopping;
      http::response<http::string_body> res{static_cast<http::status>(response.status), req.version()};
      res.set(http::field::server, "latchkeyd");
      if (!response.content_type.empty()) res.set(http::field::content_type, response.content_type);
      res.set(http::field::cache_control, "no-store");
      for (auto& [name, value] : response.headers) res.set(name, value);
      res.body() = std::move(response.body);
      res.keep_alive(keep_alive);
      res.prepare_payload();
      beast::get_lowest_layer(stream).expires_after(config.read_timeout);
      co_await http::async_write(stream, res, asio::redirect_error(use_awaitable, ec));
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      request_metrics.record(routed, request.method, response.status, seconds);
      if (config_access_log)
        log::info("http_request", {{"method", request.method},
                                   {"route", routed ? routed->pattern : "unmatched"},
                                   {"status", response.status},
                                   {"ms", seconds * 1000},
                                   {"client_ip", request.client_ip}});
      if (ec || !keep_alive) co_return std::nullopt;
    }
  }

  // HTTP on one connection until it ends or upgrades; an upgraded one then runs as a WebSocket, after serve()'s
  // frame is gone.
  template <class Stream>
  asio::awaitable<void> serve_connection(Stream& stream, Connection& connection, const std::string& peer) {
    auto upgrade = co_await serve(stream, connection, peer);
    if (upgrade) {
      co_await run_websocket(stream, connection, std::move(upgrade->request), std::move(upgrade->channel),
                             std::move(upgrade->session));
    }
  }

  bool config_access_log = false;

  std::shared_ptr<Connection> register_connection(std::uint64_t& id) {
    auto c = std::make_shared<Connection>();
    std::lock_guard lock(connections_mutex);
    id = next_connection_id++;
    connections.emplace(id, c);
    open_connections.set(static_cast<std::int64_t>(connections.size()));
    return c;
  }

  void unregister_connection(std::uint64_t id) {
    bool last = false;
    {
      std::lock_guard lock(connections_mutex);
      connections.erase(id);
      open_connections.set(static_cast<std::int64_t>(connections.size()));
      last = connections.empty();
    }
    if (last && stopping) asio::post(ioc, [this] { release_contexts(); });
  }

  std::size_t connection_count() {
    std::lock_guard lock(connections_mutex);
    return connections.size();
  }

  asio::awaitable<void> run_connection(tcp::socket socket) {
    std::uint64_t id = 0;
    auto connection = register_connection(id);
    beast::error_code ec;
    auto remote = socket.remote_endpoint(ec);
    std::string peer = ec ? "unknown" : remote.address().to_string();
    auto executor = socket.get_executor();
    try {
      if (tls) {
        auto stream = std::make_shared<beast::ssl_stream<beast::tcp_stream>>(std::move(socket), *tls);
        std::weak_ptr<beast::ssl_stream<beast::tcp_stream>> weak = stream;
        connection->set_close([executor, weak] {
          asio::post(executor, [weak] {
            if (auto s = weak.lock()) beast::get_lowest_layer(*s).close();
          });
        });
        beast::get_lowest_layer(*stream).expires_after(config.read_timeout);
        co_await stream->async_handshake(asio::ssl::stream_base::server, asio::redirect_error(use_awaitable, ec));
        if (!ec) {
          co_await serve_connection(*stream, *connection, peer);
          beast::get_lowest_layer(*stream).expires_after(std::chrono::seconds(2));
          co_await stream->async_shutdown(asio::redirect_error(use_awaitable, ec));
        }
      } else {
        auto stream = std::make_shared<beast::tcp_stream>(std::move(socket));
        std::weak_ptr<beast::tcp_stream> weak = stream;
        connection->set_close([executor, weak] {
          asio::post(executor, [weak] {
            if (auto s = weak.lock()) s->close();
          });
        });
        co_await serve_connection(*stream, *connection, peer);
        stream->socket().shutdown(tcp::socket::shutdown_send, ec);
      }
    } catch (const std::exception& e) {
      log::debug("connection_failed", {{"what", e.what()}});
    }
    unregister_connection(id);
  }

  asio::awaitable<void> accept_loop() {
    for (;;) {
      beast::error_code ec;
      tcp::socket socket = co_await acceptor.async_accept(pick_context(), asio::redirect_error(use_awaitable, ec));
      if (ec) {
        if (ec == asio::error::operation_aborted || stopping) co_return;
        log::warn("accept_failed", {{"error", ec.message()}});
        asio::steady_timer pause(ioc, std::chrono::milliseconds(50));
        co_await pause.async_wait(asio::redirect_error(use_awaitable, ec));
        continue;
      }
      if (connection_count() >= config.max_connections) {
        socket.close(ec);
        continue;
      }
      socket.set_option(tcp::no_delay(true), ec);
      auto executor = socket.get_executor();
      asio::co_spawn(executor, run_connection(std::move(socket)), asio::detached);
    }
  }

  asio::io_context& pick_context() {
    std::size_t n = extra_contexts.size() + 1;
    std::size_t i = next_context.fetch_add(1, std::memory_order_relaxed) % n;
    return i == 0 ? ioc : *extra_contexts[i - 1];
  }

  // Lets every io_context return from run() once it has no more work. Runs on `ioc`.
  void release_contexts() {
    grace_timer.cancel();
    keep_running.clear();
  }

  void stop_all_contexts() {
    ioc.stop();
    for (auto& c : extra_contexts) c->stop();
  }

  void begin_shutdown() {
    if (stopping.exchange(true)) return;
    log::info("shutdown_started", {{"open_connections", connection_count()}});
    beast::error_code ec;
    acceptor.close(ec);
    signals.cancel(ec);
    for (auto& t : periodic_timers) t->cancel();
    std::vector<std::shared_ptr<Connection>> idle;
    {
      std::lock_guard lock(connections_mutex);
      for (auto& [id, c] : connections)
        if (!c->busy) idle.push_back(c);
    }
    for (auto& c : idle) c->close();  // closing happens outside the registry lock
    if (connection_count() == 0) {
      release_contexts();
      return;
    }
    grace_timer.expires_after(config.shutdown_grace);
    grace_timer.async_wait([this](beast::error_code ec) {
      if (ec) return;  // every connection finished in time
      log::warn("shutdown_grace_expired", {{"open_connections", connection_count()}});
      stop_all_contexts();
    });
  }
};

HttpServer::HttpServer(const ServerConfig& config, const Router& router, MetricsRegistry& metrics)
    : impl_(std::make_unique<Impl>(config, router, metrics)) {}

HttpServer::~HttpServer() {
  if (impl_) {
    impl_->workers.join();
    impl_->outbound.join();
  }
}

Status HttpServer::start() {
  Impl& s = *impl_;
  const std::string& listen = s.config.listen;
  auto colon = listen.rfind(':');
  std::string host = listen.substr(0, colon);
  std::string port = listen.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  beast::error_code ec;
  tcp::resolver resolver(s.ioc);
  auto results = resolver.resolve(host, port, tcp::resolver::passive | tcp::resolver::numeric_service, ec);
  if (ec || results.empty())
    return make_error(ErrorCode::kInternal, "server.listen: cannot resolve \"" + listen + "\": " + ec.message());
  tcp::endpoint endpoint = results.begin()->endpoint();
  s.acceptor.open(endpoint.protocol(), ec);
  if (!ec) s.acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) s.acceptor.bind(endpoint, ec);
  if (!ec) s.acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return make_error(ErrorCode::kInternal, "server.listen: cannot listen on " + listen + ": " + ec.message());

  if (!s.config.tls_certificate.empty()) {
    s.tls.emplace(asio::ssl::context::tls_server);
    s.tls->set_options(asio::ssl::context::default_workarounds | asio::ssl::context::no_sslv2 |
                       asio::ssl::context::no_sslv3 | asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1 |
                       asio::ssl::context::single_dh_use);
    s.tls->use_certificate_chain_file(s.config.tls_certificate, ec);
    if (ec) return make_error(ErrorCode::kInternal, "server.tls_certificate: " + ec.message());
    s.tls->use_private_key_file(s.config.tls_private_key, asio::ssl::context::pem, ec);
    if (ec) return make_error(ErrorCode::kInternal, "server.tls_private_key: " + ec.message());
  }
  return {};
}

std::string HttpServer::local_address() const {
  beast::error_code ec;
  auto ep = impl_->acceptor.local_endpoint(ec);
  return ec ? std::string() : endpoint_text(ep);
}

void HttpServer::add_periodic_task(Duration interval, std::function<void()> task) {
  Impl& s = *impl_;
  auto timer = std::make_unique<asio::steady_timer>(s.ioc);
  asio::steady_timer* t = timer.get();
  s.periodic_timers.push_back(std::move(timer));
  asio::co_spawn(
      s.ioc,
      [&s, t, interval, task = std::move(task)]() -> asio::awaitable<void> {
        for (;;) {
          t->expires_after(interval);
          beast::error_code ec;
          co_await t->async_wait(asio::redirect_error(use_awaitable, ec));
          if (ec || s.stopping) co_return;
          asio::post(s.workers, [task] {
            name_pool_thread("lk-worker");
            try {
              task();
            } catch (const std::exception& e) {
              log::error("periodic_task_failed", {{"what", e.what()}});
            }
          });
        }
      },
      asio::detached);
}

void HttpServer::run() {
  Impl& s = *impl_;
  s.signals.async_wait([&s](beast::error_code ec, int signal) {
    if (ec) return;
    log::info("signal_received", {{"signal", signal}});
    s.begin_shutdown();
  });
  asio::co_spawn(s.ioc, s.accept_loop(), asio::detached);
  log::info("listening", {{"address", local_address()}, {"tls", s.tls.has_value()}});
  for (int i = 1; i < s.config.io_threads; ++i) s.extra_contexts.push_back(std::make_unique<asio::io_context>(1));
  s.keep_running.push_back(asio::make_work_guard(s.ioc));
  for (auto& c : s.extra_contexts) s.keep_running.push_back(asio::make_work_guard(*c));
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < s.extra_contexts.size(); ++i)
    threads.emplace_back([&s, i] {
      pthread_setname_np(pthread_self(), ("lk-io-" + std::to_string(i + 1)).c_str());
      s.extra_contexts[i]->run();
    });
  pthread_setname_np(pthread_self(), "lk-io-0");
  s.ioc.run();
  for (auto& t : threads) t.join();
  s.workers.join();
  s.outbound.join();
  log::info("shutdown_complete");
}

void HttpServer::set_access_log(bool enabled) { impl_->config_access_log = enabled; }

void HttpServer::stop() {
  asio::post(impl_->ioc, [this] { impl_->begin_shutdown(); });
}

}  // namespace latchkey
