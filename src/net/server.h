// The HTTP/1.1 server (Boost.Beast, C++20 coroutines), optionally over TLS. Sockets and parsing run on
// server.io_threads threads; handlers run on the worker or outbound thread pool chosen by their route, so an
// I/O thread never waits on storage or a provider. Every read has a deadline; bodies and headers have size
// limits. SIGTERM/SIGINT start a graceful shutdown: the listener closes, idle connections close, in-flight
// requests finish (up to server.shutdown_grace), and run() returns.
//
// This is the only header of the network layer that other folders include, and it includes no Boost.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/config.h"
#include "core/error.h"
#include "metrics/metrics.h"
#include "net/router.h"

namespace latchkey {

class HttpServer {
 public:
  // `router` and `metrics` must outlive the server; routes must not change after start().
  HttpServer(const ServerConfig& config, const Router& router, MetricsRegistry& metrics);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens. kInternal naming the problem: bad address, port in use, unreadable TLS files.
  Status start();

  // The bound address, e.g. "127.0.0.1:8080" (useful with port 0).
  std::string local_address() const;

  // Runs `task` on the worker pool every `interval` until shutdown. Call before run().
  void add_periodic_task(Duration interval, std::function<void()> task);

  // Serves until a signal or stop(), then shuts down gracefully. Blocks the calling thread, which becomes one
  // of the I/O threads.
  void run();

  // One info log line per request (method, route, status, latency, client IP). Call before run().
  void set_access_log(bool enabled);

  // Starts a graceful shutdown. Thread-safe; idempotent.
  void stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace latchkey
