#include <utility>  // before Asio: Boost 1.74's awaitable.hpp needs std::exchange

#include "net/coalescing_stream.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <string>
#include <vector>

namespace latchkey {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using asio::ip::tcp;
using asio::use_awaitable;

// A connected loopback pair: `server` (wrapped by the tests) and `client` (the peer, plain Beast).
struct Pair {
  asio::io_context ioc;
  beast::tcp_stream server{ioc};
  beast::tcp_stream client{ioc};

  Pair() {
    tcp::acceptor acceptor(ioc, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    client.socket().connect(acceptor.local_endpoint());
    server.socket() = acceptor.accept();
    server.socket().set_option(tcp::no_delay(true));
  }

  // Runs `body` to completion (bounded: 10 s), rethrowing its exception.
  void run(asio::awaitable<void> body) {
    std::exception_ptr failure;
    bool done = false;
    asio::co_spawn(ioc, std::move(body), [&](std::exception_ptr e) {
      failure = e;
      done = true;
    });
    ioc.run_for(std::chrono::seconds(10));
    ASSERT_TRUE(done) << "timed out";
    if (failure) std::rethrow_exception(failure);
  }

  // Reads exactly `n` bytes from the client side.
  std::string read_client(std::size_t n) {
    std::string out(n, '\0');
    asio::read(client.socket(), asio::buffer(out));
    return out;
  }
};

asio::awaitable<void> write(CoalescingStream<beast::tcp_stream>& s, std::string text) {
  std::size_t n = co_await s.async_write_some(asio::buffer(text), use_awaitable);
  EXPECT_EQ(n, text.size());
}

// Reads once, expecting `expected` and no bytes.
asio::awaitable<void> expect_read_fails(CoalescingStream<beast::tcp_stream>& s, beast::error_code expected) {
  beast::error_code ec;
  char piece[16];
  std::size_t n = co_await s.async_read_some(asio::buffer(piece), asio::redirect_error(use_awaitable, ec));
  EXPECT_EQ(ec, expected);
  EXPECT_EQ(n, 0u);
}

TEST(CoalescingStreamTest, HeldWritesLeaveInOneSocketWrite) {
  Pair p;
  CoalescingStream<beast::tcp_stream> s(p.server);
  p.run([&]() -> asio::awaitable<void> {
    s.hold();
    co_await write(s, "one,");
    co_await write(s, "two,");
    co_await write(s, "three");
    EXPECT_EQ(s.socket_writes(), 0u);
    EXPECT_EQ(s.pending_bytes(), 13u);
    beast::error_code ec;
    co_await s.async_flush(asio::redirect_error(use_awaitable, ec));
    EXPECT_FALSE(ec);
    EXPECT_EQ(s.socket_writes(), 1u);
    EXPECT_FALSE(s.writing());
  }());
  EXPECT_EQ(p.read_client(13), "one,two,three");
}

TEST(CoalescingStreamTest, WritesMadeWhileOneIsInFlightFollowItInOrder) {
  Pair p;
  CoalescingStream<beast::tcp_stream> s(p.server);
  p.run([&]() -> asio::awaitable<void> {
    // Not held: the first write goes to the socket at once; the next two join the following socket write.
    co_await write(s, "a");
    EXPECT_EQ(s.socket_writes(), 1u);
    co_await write(s, "b");
    co_await write(s, "c");
    beast::error_code ec;
    co_await s.async_flush(asio::redirect_error(use_awaitable, ec));
    EXPECT_FALSE(ec);
    EXPECT_LE(s.socket_writes(), 3u);
    EXPECT_EQ(s.pending_bytes(), 0u);
  }());
  EXPECT_EQ(p.read_client(3), "abc");
}

TEST(CoalescingStreamTest, ASocketErrorIsKeptAndReported) {
  Pair p;
  CoalescingStream<beast::tcp_stream> s(p.server);
  p.run([&]() -> asio::awaitable<void> {
    p.server.socket().close();
    s.hold();
    co_await write(s, "lost");
    beast::error_code ec;
    co_await s.async_flush(asio::redirect_error(use_awaitable, ec));
    EXPECT_TRUE(ec);
    std::size_t n = co_await s.async_write_some(asio::buffer(std::string("after")),
                                                asio::redirect_error(use_awaitable, ec));
    EXPECT_TRUE(ec);
    EXPECT_EQ(n, 0u);
    EXPECT_EQ(s.pending_bytes(), 0u);
  }());
}

TEST(CoalescingStreamTest, CarriesAWebSocketWithPongsAndTheCloseHandshake) {
  Pair p;
  websocket::stream<CoalescingStream<beast::tcp_stream>> server(p.server);
  websocket::stream<beast::tcp_stream&> client(p.client);
  std::vector<std::string> received;
  std::vector<websocket::frame_type> control;
  client.control_callback([&](websocket::frame_type kind, beast::string_view) { control.push_back(kind); });

  // Server: accepts, sends three messages in one socket write, answers the client's ping (Beast, through the
  // layer) and its "bye", then reads until the client closes (Beast answers the close through the layer).
  asio::co_spawn(
      p.ioc,
      [&]() -> asio::awaitable<void> {
        co_await server.async_accept(use_awaitable);
        auto& layer = server.next_layer();
        std::size_t before = layer.socket_writes();
        layer.hold();
        for (const char* text : {"first", "second", "third"})
          co_await server.async_write(asio::buffer(std::string(text)), use_awaitable);
        co_await layer.async_flush(use_awaitable);
        EXPECT_EQ(layer.socket_writes(), before + 1);
        beast::flat_buffer buffer;
        co_await server.async_read(buffer, use_awaitable);  // answers the ping first
        EXPECT_EQ(beast::buffers_to_string(buffer.data()), "bye");
        co_await server.async_write(asio::buffer(std::string("ok")), use_awaitable);
        beast::error_code ec;
        co_await server.async_read(buffer, asio::redirect_error(use_awaitable, ec));
        EXPECT_EQ(ec, websocket::error::closed);
      },
      asio::detached);

  bool client_done = false;
  asio::co_spawn(
      p.ioc,
      [&]() -> asio::awaitable<void> {
        co_await client.async_handshake("localhost", "/", use_awaitable);
        beast::flat_buffer buffer;
        for (int i = 0; i < 3; ++i) {
          co_await client.async_read(buffer, use_awaitable);
          received.push_back(beast::buffers_to_string(buffer.data()));
          buffer.consume(buffer.size());
        }
        co_await client.async_ping({}, use_awaitable);
        co_await client.async_write(asio::buffer(std::string("bye")), use_awaitable);
        co_await client.async_read(buffer, use_awaitable);  // the pong, then "ok"
        received.push_back(beast::buffers_to_string(buffer.data()));
        co_await client.async_close(websocket::close_code::normal, use_awaitable);
        client_done = true;
      },
      asio::detached);

  p.ioc.run_for(std::chrono::seconds(10));
  EXPECT_TRUE(client_done);
  EXPECT_EQ(received, (std::vector<std::string>{"first", "second", "third", "ok"}));
  ASSERT_FALSE(control.empty());
  EXPECT_EQ(control.front(), websocket::frame_type::pong);
}

TEST(CoalescingStreamTest, OneSocketReadServesSeveralReadsAndTheBufferIsGivenBackWhenDrained) {
  Pair p;
  CoalescingStream<beast::tcp_stream> s(p.server);
  std::string sent(20000, '\0');
  for (std::size_t i = 0; i < sent.size(); ++i) sent[i] = static_cast<char>('a' + i % 23);
  asio::write(p.client.socket(), asio::buffer(sent));  // all of it waits in the socket before the first read
  p.run([&]() -> asio::awaitable<void> {
    std::string received;
    std::size_t reads = 0;
    while (received.size() < sent.size()) {
      char piece[1536];
      std::size_t n = co_await s.async_read_some(asio::buffer(piece), use_awaitable);
      received.append(piece, n);
      ++reads;
      if (received.size() == 1536) {
        EXPECT_EQ(s.read_ahead_bytes(), 16u * 1024);
      }
    }
    EXPECT_EQ(received, sent);
    EXPECT_GE(reads, sent.size() / 1536);
    // 1,536 + 16 KiB, then the last 2,080 bytes.
    EXPECT_EQ(s.socket_reads(), 2u);
    EXPECT_EQ(s.read_ahead_bytes(), 0u);
    EXPECT_FALSE(s.holds_read_ahead_buffer());
  }());
}

TEST(CoalescingStreamTest, AReadOnAnEmptySocketWaitsForDataWithoutAReadAheadBuffer) {
  Pair p;
  CoalescingStream<beast::tcp_stream> s(p.server);
  p.run([&]() -> asio::awaitable<void> {
    asio::steady_timer later(p.ioc);
    for (const std::string text : {"short", "frames", "one by one"}) {
      // The read starts on an empty socket; the data comes 5 ms later.
      later.expires_after(std::chrono::milliseconds(5));
      later.async_wait([&, text](beast::error_code) { asio::write(p.client.socket(), asio::buffer(text)); });
      char piece[1536];
      std::size_t n = co_await s.async_read_some(asio::buffer(piece), use_awaitable);
      EXPECT_EQ(std::string(piece, n), text);
      EXPECT_FALSE(s.holds_read_ahead_buffer());
    }
    // The first read tries a receive (nothing there), waits and receives; the others know the socket was
    // emptied and wait first.
    EXPECT_EQ(s.socket_reads(), 4u);
    p.client.socket().shutdown(tcp::socket::shutdown_send);
    co_await expect_read_fails(s, asio::error::eof);
  }());
}

TEST(CoalescingStreamTest, AReadAfterTheSocketWasEmptiedFindsDataThatCameBeforeIt) {
  Pair p;
  CoalescingStream<beast::tcp_stream> s(p.server);
  p.run([&]() -> asio::awaitable<void> {
    char piece[64];
    asio::write(p.client.socket(), asio::buffer(std::string("first")));
    std::size_t n = co_await s.async_read_some(asio::buffer(piece), use_awaitable);  // empties the socket
    EXPECT_EQ(std::string(piece, n), "first");
    // The next data is there before the next read starts; that read waits first and is woken at once.
    asio::write(p.client.socket(), asio::buffer(std::string("second")));
    asio::steady_timer settle(p.ioc);
    settle.expires_after(std::chrono::milliseconds(5));
    co_await settle.async_wait(use_awaitable);
    n = co_await s.async_read_some(asio::buffer(piece), use_awaitable);
    EXPECT_EQ(std::string(piece, n), "second");
    EXPECT_EQ(s.socket_reads(), 2u);
  }());
}

TEST(CoalescingStreamTest, AWaitingReadEndsWhenTheSocketIsClosed) {
  Pair p;
  CoalescingStream<beast::tcp_stream> s(p.server);
  p.run([&]() -> asio::awaitable<void> {
    asio::steady_timer later(p.ioc);
    later.expires_after(std::chrono::milliseconds(5));
    later.async_wait([&](beast::error_code) { p.server.socket().close(); });
    co_await expect_read_fails(s, asio::error::operation_aborted);
  }());
}

TEST(CoalescingStreamTest, AWebSocketReadsABurstOfLargeMessagesInFewSocketReads) {
  Pair p;
  websocket::stream<CoalescingStream<beast::tcp_stream>> server(p.server);
  websocket::stream<beast::tcp_stream&> client(p.client);
  constexpr int kMessages = 50;
  auto message = [](int i) { return std::string(2048, static_cast<char>('A' + i % 26)); };
  bool written = false;
  bool server_done = false;
  asio::co_spawn(
      p.ioc,
      [&]() -> asio::awaitable<void> {
        co_await server.async_accept(use_awaitable);
        asio::steady_timer wait(p.ioc);
        while (!written) {  // the whole burst waits in the socket before the first read
          wait.expires_after(std::chrono::milliseconds(1));
          co_await wait.async_wait(use_awaitable);
        }
        const std::size_t before = server.next_layer().socket_reads();
        beast::flat_buffer buffer;
        for (int i = 0; i < kMessages; ++i) {
          co_await server.async_read(buffer, use_awaitable);
          EXPECT_EQ(beast::buffers_to_string(buffer.data()), message(i)) << i;
          buffer.consume(buffer.size());
        }
        // About 100 KiB: without reading ahead, at least two socket reads per message.
        EXPECT_LE(server.next_layer().socket_reads() - before, 8u);
        EXPECT_FALSE(server.next_layer().holds_read_ahead_buffer());
        server_done = true;
      },
      asio::detached);
  asio::co_spawn(
      p.ioc,
      [&]() -> asio::awaitable<void> {
        co_await client.async_handshake("localhost", "/", use_awaitable);
        for (int i = 0; i < kMessages; ++i)
          co_await client.async_write(asio::buffer(message(i)), use_awaitable);
        written = true;
      },
      asio::detached);
  p.ioc.run_for(std::chrono::seconds(10));
  EXPECT_TRUE(server_done);
}

}  // namespace
}  // namespace latchkey
