// A write-behind layer between a WebSocket stream and its socket, so that frames queued together leave in one
// system call.
//
// Under load the storage writer completes sends in groups: one commit answers several of a sender's sends and
// queues envelopes for many recipients at once. Beast writes each WebSocket message with its own socket write,
// and on loopback and real networks alike a write costs the sender a system call and the peer a wake-up.
// CoalescingStream sits under Beast's websocket::stream (as its next layer):
//   - every write Beast makes (our messages, and its own ping, pong and close frames) is copied into a pending
//     buffer and completes at once, so frames keep the order in which Beast produced them;
//   - one write to the socket is in flight at a time; it carries everything pending when it starts;
//   - hold() stops writes from starting; async_flush() lifts the hold and completes once nothing is pending or in
//     flight (or the socket failed). WsChannel (net/server.cc) holds, writes what it has queued (up to a
//     bound), then flushes and waits: one write in flight, and the memory it gathers is bounded by the bound.
// Reads: Beast reads a frame in pieces (its 1,536-byte read buffer first, then the rest), and Asio starts
// every read with a receive call of its own: three receive calls per 2 KiB frame that arrives alone, the last
// one finding nothing (EAGAIN). On a plain socket this layer reads itself instead: one non-blocking receive
// takes what Beast asked for plus up to kReadAheadBytes more into a per-thread scratch buffer, and what
// landed there is kept (in a buffer of its exact size) to serve Beast's next reads without a system call.
// When the socket has nothing, it waits for readiness (async_wait) and receives then; after a receive that
// emptied the socket, the next read waits first. So a frame that arrives on its own costs two system calls
// (the wait's epoll_ctl and one receive) and a burst one receive per 16 KiB. An idle socket keeps no read-
// ahead buffer: it waits only after its read-ahead was drained. Through TLS, reads pass straight to the next
// layer.
// A write error is kept: later writes and flushes complete with it at once.
// Not thread-safe: like the socket, it is used from one thread (the connection's io_context) at a time.
#pragma once

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/bind_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/buffers_cat.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/websocket/teardown.hpp>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace latchkey {

// How much a writer gathers under hold() before it flushes: bounds the pending buffer of a socket whose queue is
// long (the frames after it wait for the next write).
constexpr std::size_t kCoalescingGatherBytes = 64 * 1024;

template <class Next>
class CoalescingStream {
 public:
  using next_layer_type = Next;
  using executor_type = typename Next::executor_type;

  // After a write, buffers larger than this are given back (an idle socket keeps no write buffer to speak of).
  static constexpr std::size_t kKeepCapacity = 4096;
  // With nothing pending after a write, a buffer this small (a queue_empty marker, a pong) is given back too.
  static constexpr std::size_t kDropWhenIdle = 256;
  // How much a socket read may take beyond what its caller asked for.
  static constexpr std::size_t kReadAheadBytes = 16 * 1024;

  // Built in place (websocket::stream constructs its next layer from the arguments it is given) and never moved:
  // a socket write's completion refers to it. Memory: about 100 bytes plus the buffers, which an idle socket
  // gives back.
  explicit CoalescingStream(Next& next) { state_.next = &next; }
  CoalescingStream(const CoalescingStream&) = delete;
  CoalescingStream& operator=(const CoalescingStream&) = delete;

  Next& next_layer() { return *state_.next; }
  const Next& next_layer() const { return *state_.next; }
  executor_type get_executor() { return state_.next->get_executor(); }

  // Completes with bytes from the read-ahead buffer if it holds any (posted, never inline), else reads the
  // socket (see the top of the file).
  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    if constexpr (!kReadsTheSocket) {
      return state_.next->async_read_some(buffers, std::forward<Token>(token));
    } else {
      return boost::asio::async_initiate<Token, void(boost::beast::error_code, std::size_t)>(
          [this](auto handler, const MutableBuffers& b) {
            State& s = state_;
            boost::beast::error_code ec;
            std::size_t n = 0;
            if (s.ahead_begin < s.ahead_end) {
              n = boost::asio::buffer_copy(
                  b, boost::asio::buffer(s.ahead.get() + s.ahead_begin, s.ahead_end - s.ahead_begin));
              s.ahead_begin += static_cast<std::uint32_t>(n);
              if (s.ahead_begin == s.ahead_end) drop_read_ahead(s);
            } else if (s.drained) {
              ec = boost::asio::error::would_block;  // the last receive emptied the socket: wait first
            } else {
              n = receive(s, b, ec);
            }
            if (ec == boost::asio::error::would_block) {
              ReadWhenReady<MutableBuffers, decltype(handler)>{&s, b, std::move(handler)}.wait();
              return;
            }
            auto ex = boost::asio::get_associated_executor(handler, get_executor());
            boost::asio::post(ex, boost::beast::bind_front_handler(std::move(handler), ec, n));
          },
          token, buffers);
    }
  }

  // Copies `buffers` into the pending buffer and completes (posted, never inline) with their whole size, or
  // with the error an earlier socket write failed with.
  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::beast::error_code, std::size_t)>(
        [this](auto handler, const ConstBuffers& b) {
          boost::beast::error_code ec = state_.error;
          std::size_t n = 0;
          if (!ec) {
            n = boost::asio::buffer_size(b);
            std::string& pending = state_.pending;
            std::size_t old = pending.size();
            pending.resize(old + n);
            boost::asio::buffer_copy(boost::asio::buffer(pending.data() + old, n), b);
            if (!state_.held) start_write(state_);
          }
          auto ex = boost::asio::get_associated_executor(handler, get_executor());
          boost::asio::post(ex, boost::beast::bind_front_handler(std::move(handler), ec, n));
        },
        token, buffers);
  }

  // Writes wait for async_flush() (Beast's own frames too, for as long as the hold lasts: keep it short).
  void hold() { state_.held = true; }

  // Lifts the hold and completes with the socket's error state once everything written so far has left (or a
  // write failed). Completion is posted, never inline.
  template <class Token>
  auto async_flush(Token&& token) {
    return boost::asio::async_initiate<Token, void(boost::beast::error_code)>(
        [this](auto handler) {
          state_.held = false;
          start_write(state_);
          if (!state_.writing) {
            auto ex = boost::asio::get_associated_executor(handler, get_executor());
            boost::asio::post(ex, boost::beast::bind_front_handler(std::move(handler), state_.error));
            return;
          }
          state_.waiters.push_back(std::make_unique<Waiter<decltype(handler)>>(std::move(handler), get_executor()));
        },
        token);
  }

  // True while a socket write is in flight (its completion refers to this object: wait for async_flush() after
  // closing the socket before destroying it).
  bool writing() const { return state_.writing; }
  std::size_t pending_bytes() const { return state_.pending.size(); }
  std::size_t socket_writes() const { return state_.socket_writes; }
  std::size_t socket_reads() const { return state_.socket_reads; }
  std::size_t read_ahead_bytes() const { return state_.ahead_end - state_.ahead_begin; }
  bool holds_read_ahead_buffer() const { return state_.ahead != nullptr; }

  // Reads are this layer's own (non-blocking receives and readiness waits) on a plain socket; other layers
  // (TLS) are read straight through.
  static constexpr bool kReadsTheSocket = requires(Next & n) {
    n.socket().async_wait(boost::asio::socket_base::wait_read, [](boost::beast::error_code) {});
  };

 private:
  struct WaiterBase {
    virtual ~WaiterBase() = default;
    virtual void complete(boost::beast::error_code ec) = 0;
  };
  template <class Handler>
  struct Waiter final : WaiterBase {
    Waiter(Handler h, executor_type fallback) : handler(std::move(h)), fallback(std::move(fallback)) {}
    void complete(boost::beast::error_code ec) override {
      auto ex = boost::asio::get_associated_executor(handler, fallback);
      boost::asio::post(ex, boost::beast::bind_front_handler(std::move(handler), ec));
    }
    Handler handler;
    executor_type fallback;
  };

  struct State {
    Next* next = nullptr;
    std::string pending;   // written by Beast, not yet handed to the socket
    std::string in_flight;  // handed to the socket
    std::vector<std::unique_ptr<WaiterBase>> waiters;
    boost::beast::error_code error;
    std::size_t socket_writes = 0;
    std::size_t socket_reads = 0;
    // Read-ahead: bytes [ahead_begin, ahead_end) of `ahead` were read from the socket and not yet by Beast.
    std::unique_ptr<char[]> ahead;
    std::uint32_t ahead_begin = 0;
    std::uint32_t ahead_end = 0;
    bool held = false;
    bool writing = false;
    bool non_blocking = false;  // the socket is in non-blocking mode for receive()
    bool drained = false;       // the last receive found the socket empty (or emptied it)
  };

  static void drop_read_ahead(State& s) {
    s.ahead.reset();
    s.ahead_begin = s.ahead_end = 0;
  }

  // One non-blocking receive into `b` and a per-thread scratch buffer; what lands in the scratch buffer is
  // kept in a read-ahead buffer of its exact size. would_block when the socket has nothing.
  template <class MutableBuffers>
  static std::size_t receive(State& s, const MutableBuffers& b, boost::beast::error_code& ec) {
    auto& socket = s.next->socket();
    if (!s.non_blocking) {
      socket.non_blocking(true, ec);
      if (ec) return 0;
      s.non_blocking = true;
    }
    thread_local std::unique_ptr<char[]> scratch = std::make_unique<char[]>(kReadAheadBytes);
    const std::size_t wanted = boost::asio::buffer_size(b);
    ++s.socket_reads;
    std::size_t n = socket.receive(
        boost::beast::buffers_cat(b, boost::asio::mutable_buffer(scratch.get(), kReadAheadBytes)), 0, ec);
    // Less than asked for: the socket is empty now, and the next read waits for readiness without trying
    // first.
    s.drained = ec == boost::asio::error::would_block || (!ec && n < wanted + kReadAheadBytes);
    if (ec || n <= wanted) return n;
    const std::size_t extra = n - wanted;
    s.ahead = std::make_unique_for_overwrite<char[]>(extra);
    std::memcpy(s.ahead.get(), scratch.get(), extra);
    s.ahead_begin = 0;
    s.ahead_end = static_cast<std::uint32_t>(extra);
    return wanted;
  }

  // A read waiting for the socket to be readable; then receives into the caller's buffers (or waits again
  // after a spurious wake).
  template <class MutableBuffers, class Handler>
  struct ReadWhenReady {
    State* s;
    MutableBuffers b;
    Handler handler;

    // Asio starts a wait with EPOLL_CTL_MOD, which reports the socket at once if data is already there.
    void wait() {
      auto ex = boost::asio::get_associated_executor(handler, s->next->get_executor());
      s->next->socket().async_wait(boost::asio::socket_base::wait_read,
                                   boost::asio::bind_executor(ex, std::move(*this)));
    }

    void operator()(boost::beast::error_code ec) {
      std::size_t n = 0;
      if (!ec) n = receive(*s, b, ec);
      if (ec == boost::asio::error::would_block) return wait();
      std::move(handler)(ec, n);
    }
  };

  static void start_write(State& s) {
    if (s.writing || s.pending.empty() || s.error) return;
    s.writing = true;
    s.in_flight.swap(s.pending);
    ++s.socket_writes;
    boost::asio::async_write(*s.next, boost::asio::buffer(s.in_flight),
                             [state = &s](boost::beast::error_code ec, std::size_t) { on_written(*state, ec); });
  }

  static void on_written(State& s, boost::beast::error_code ec) {
    s.writing = false;
    s.in_flight.clear();
    if (s.in_flight.capacity() > kKeepCapacity) std::string().swap(s.in_flight);
    if (ec) {
      s.error = ec;
      std::string().swap(s.pending);
    } else if (!s.held && !s.pending.empty()) {
      start_write(s);
      return;
    }
    if (s.pending.empty()) {
      if (s.pending.capacity() > kKeepCapacity) std::string().swap(s.pending);
      if (s.in_flight.capacity() <= kDropWhenIdle) std::string().swap(s.in_flight);  // an idle socket's last frame
    }
    auto waiters = std::move(s.waiters);
    s.waiters.clear();
    for (auto& w : waiters) w->complete(s.error);
  }

  State state_;
};

// Beast's close handshake ends with a teardown of the next layer: first let what is pending (the close frame)
// leave, then tear the socket down as Beast would without this layer.
template <class Next>
void teardown(boost::beast::role_type role, CoalescingStream<Next>& stream, boost::beast::error_code& ec) {
  using boost::beast::websocket::teardown;
  teardown(role, stream.next_layer(), ec);
}

template <class Next, class Handler>
void async_teardown(boost::beast::role_type role, CoalescingStream<Next>& stream, Handler&& handler) {
  auto ex = boost::asio::get_associated_executor(handler, stream.get_executor());
  stream.async_flush(boost::asio::bind_executor(
      ex, [role, &stream, h = std::forward<Handler>(handler)](boost::beast::error_code) mutable {
        using boost::beast::websocket::async_teardown;
        async_teardown(role, stream.next_layer(), std::move(h));
      }));
}

}  // namespace latchkey
