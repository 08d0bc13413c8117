#include "client/net/websocket_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

namespace latchkey::client {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
namespace ssl = net::ssl;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

struct WebSocketClient::Impl {
  net::io_context ioc;
  std::optional<ssl::context> tls_context;
  std::unique_ptr<websocket::stream<beast::tcp_stream>> plain;
  std::unique_ptr<websocket::stream<beast::ssl_stream<beast::tcp_stream>>> secure;

  beast::flat_buffer buffer;
  bool read_pending = false;
  bool read_done = false;
  beast::error_code read_error;

  bool closed = false;
  int close_code = 0;
  std::string close_reason;

  template <class F>
  decltype(auto) with_stream(F&& f) {
    if (secure) return f(*secure);
    return f(*plain);
  }

  // Runs handlers until `done` or the deadline; false on timeout.
  bool run_until(const bool& done, Clock::time_point deadline) {
    while (!done) {
      auto now = Clock::now();
      if (now >= deadline) return false;
      if (ioc.stopped()) ioc.restart();
      ioc.run_one_for(deadline - now);
    }
    return true;
  }

  // Drops the TCP connection and runs the handlers that this cancels.
  void abort() {
    with_stream([](auto& ws) {
      beast::error_code ignored;
      beast::get_lowest_layer(ws).socket().close(ignored);
    });
    closed = true;
    if (ioc.stopped()) ioc.restart();
    ioc.run_for(std::chrono::milliseconds(200));
  }

  void start_read() {
    read_pending = true;
    read_done = false;
    with_stream([this](auto& ws) {
      ws.async_read(buffer, [this](beast::error_code ec, std::size_t) {
        read_error = ec;
        read_done = true;
      });
    });
  }
};

WebSocketClient::WebSocketClient(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

WebSocketClient::~WebSocketClient() {
  if (impl_ && !impl_->closed) impl_->abort();
}

Result<std::unique_ptr<WebSocketClient>> WebSocketClient::connect(const ServerUrl& server, std::string_view path,
                                                                  const std::optional<Credentials>& credentials,
                                                                  std::chrono::milliseconds timeout) {
  auto impl = std::make_unique<Impl>();
  Impl& s = *impl;
  if (server.tls) {
    s.tls_context.emplace(ssl::context::tls_client);
    s.tls_context->set_default_verify_paths();
    s.tls_context->set_verify_mode(ssl::verify_peer);
    s.secure = std::make_unique<websocket::stream<beast::ssl_stream<beast::tcp_stream>>>(s.ioc, *s.tls_context);
  } else {
    s.plain = std::make_unique<websocket::stream<beast::tcp_stream>>(s.ioc);
  }
  auto deadline = Clock::now() + timeout;
  auto fail = [&](ErrorKind kind, std::string message) -> Error {
    s.abort();
    return make_error(kind, std::move(message));
  };

  // Resolve.
  bool done = false;
  beast::error_code ec;
  tcp::resolver resolver(s.ioc);
  tcp::resolver::results_type endpoints;
  resolver.async_resolve(server.host, server.port, [&](beast::error_code e, tcp::resolver::results_type r) {
    ec = e;
    endpoints = std::move(r);
    done = true;
  });
  if (!s.run_until(done, deadline)) {
    resolver.cancel();
    return fail(ErrorKind::kTimeout, "cannot resolve " + server.host + " in time");
  }
  if (ec) return fail(ErrorKind::kNetwork, "cannot resolve " + server.host + ": " + ec.message());

  // Connect, TLS, upgrade.
  std::string authorization = credentials ? basic_authorization(*credentials) : std::string();
  websocket::response_type upgrade_response;
  std::string host_header = server.host + ":" + server.port;
  std::string target(path);
  s.with_stream([&](auto& ws) {
    beast::get_lowest_layer(ws).async_connect(endpoints, [&](beast::error_code e, const tcp::endpoint&) {
      ec = e;
      done = true;
    });
  });
  done = false;
  if (!s.run_until(done, deadline)) return fail(ErrorKind::kTimeout, "cannot connect to " + server.text + " in time");
  if (ec) return fail(ErrorKind::kNetwork, "cannot connect to " + server.text + ": " + ec.message());
  if (s.secure) {
    if (!SSL_set_tlsext_host_name(s.secure->next_layer().native_handle(), server.host.c_str())) {
      return fail(ErrorKind::kNetwork, "cannot set the TLS server name");
    }
    s.secure->next_layer().set_verify_callback(ssl::host_name_verification(server.host));
    done = false;
    s.secure->next_layer().async_handshake(ssl::stream_base::client, [&](beast::error_code e) {
      ec = e;
      done = true;
    });
    if (!s.run_until(done, deadline)) return fail(ErrorKind::kTimeout, "TLS handshake timed out");
    if (ec) return fail(ErrorKind::kNetwork, "TLS handshake with " + server.text + " failed: " + ec.message());
  }
  s.with_stream([&](auto& ws) {
    beast::get_lowest_layer(ws).expires_never();
    ws.set_option(websocket::stream_base::timeout::suggested(beast::role_type::client));
    ws.read_message_max(1 << 20);
    ws.set_option(websocket::stream_base::decorator([authorization](websocket::request_type& request) {
      request.set(http::field::user_agent, "latchkey-client/0.1");
      if (!authorization.empty()) request.set(http::field::authorization, authorization);
    }));
    ws.async_handshake(upgrade_response, host_header, target, [&](beast::error_code e) {
      ec = e;
      done = true;
    });
  });
  done = false;
  if (!s.run_until(done, deadline)) return fail(ErrorKind::kTimeout, "the WebSocket upgrade timed out");
  std::fill(authorization.begin(), authorization.end(), '\0');
  if (ec) {
    int status = upgrade_response.result_int();
    if (status == 401 && credentials) {
      Error e = fail(ErrorKind::kUnregistered, "the server refused this device's credentials on " + target);
      e.http_status = 401;
      return e;
    }
    if (status != 0 && status != 101) {
      Error e = fail(ErrorKind::kServer, "the server refused the WebSocket upgrade on " + target + " with " +
                                             std::to_string(status));
      e.http_status = status;
      return e;
    }
    return fail(ErrorKind::kNetwork, "the WebSocket upgrade on " + target + " failed: " + ec.message());
  }
  s.with_stream([](auto& ws) { ws.text(true); });
  return std::unique_ptr<WebSocketClient>(new WebSocketClient(std::move(impl)));
}

Result<std::string> WebSocketClient::read(std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  if (s.closed) {
    if (s.close_code == kCloseDeviceUnregistered) {
      return make_error(ErrorKind::kUnregistered, "the server closed the socket: this device was unregistered");
    }
    return make_error(ErrorKind::kNetwork, "the socket is closed");
  }
  if (!s.read_pending) s.start_read();
  if (!s.run_until(s.read_done, Clock::now() + timeout)) {
    return make_error(ErrorKind::kTimeout, "no frame within the timeout");
  }
  s.read_pending = false;
  if (s.read_error) {
    s.closed = true;
    if (s.read_error == websocket::error::closed) {
      s.with_stream([&](auto& ws) {
        s.close_code = ws.reason().code;
        s.close_reason = std::string(ws.reason().reason.c_str());
      });
      if (s.close_code == kCloseDeviceUnregistered) {
        return make_error(ErrorKind::kUnregistered, "the server closed the socket: this device was unregistered");
      }
      return make_error(ErrorKind::kNetwork, "the server closed the socket (" + std::to_string(s.close_code) +
                                                 (s.close_reason.empty() ? "" : " " + s.close_reason) + ")");
    }
    s.abort();
    return make_error(ErrorKind::kNetwork, "the connection broke: " + s.read_error.message());
  }
  std::string frame = beast::buffers_to_string(s.buffer.data());
  s.buffer.consume(s.buffer.size());
  return frame;
}

Status WebSocketClient::write(std::string_view text, std::chrono::milliseconds timeout) {
  Impl& s = *impl_;
  if (s.closed) return make_error(ErrorKind::kNetwork, "the socket is closed");
  bool done = false;
  beast::error_code ec;
  std::string copy(text);
  s.with_stream([&](auto& ws) {
    ws.async_write(net::buffer(copy), [&](beast::error_code e, std::size_t) {
      ec = e;
      done = true;
    });
  });
  if (!s.run_until(done, Clock::now() + timeout)) {
    s.abort();
    s.run_until(done, Clock::now() + std::chrono::seconds(1));
    return make_error(ErrorKind::kTimeout, "sending a frame timed out");
  }
  if (ec) return make_error(ErrorKind::kNetwork, "sending a frame failed: " + ec.message());
  return ok_status();
}

void WebSocketClient::close() {
  Impl& s = *impl_;
  if (s.closed) return;
  bool done = false;
  beast::error_code ec;
  s.with_stream([&](auto& ws) {
    ws.async_close(websocket::close_code::normal, [&](beast::error_code e) {
      ec = e;
      done = true;
    });
  });
  auto deadline = Clock::now() + std::chrono::seconds(2);
  s.run_until(done, deadline);
  // The server answers our close with its own; a pending read sees it and completes.
  if (s.read_pending) s.run_until(s.read_done, deadline);
  s.abort();
}

bool WebSocketClient::closed() const { return impl_->closed; }
int WebSocketClient::close_code() const { return impl_->close_code; }
const std::string& WebSocketClient::close_reason() const { return impl_->close_reason; }

}  // namespace latchkey::client
