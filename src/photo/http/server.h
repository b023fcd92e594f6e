// HttpServer: the event-driven HTTP/1.1 front end (Boost.Beast on Asio).
//
// A few I/O threads (io_threads) run every connection's reads, writes and
// timers; no I/O thread ever blocks. Handlers that may block (store, broker,
// disk: everything but Route::inline_io) and every BodyReader call run on a
// separate worker pool (worker_threads). So thousands of slow or idle
// connections cost memory (a few KiB each: the socket, its timer, a header
// buffer that grows only as bytes arrive) but no thread, and a busy pool
// never stops /healthz.
//
// Limits per connection (docs/api.md, "Connections and limits"):
//  - the whole request head must arrive within head_timeout_s of its first
//    byte (of the accept for a new connection), else 408 and close;
//  - a head over max_header_bytes (start line or fields) gets 431 as soon
//    as that many bytes are in, and the connection closes;
//  - a body must keep min_body_rate bytes/s on average once
//    body_rate_grace_s have passed, and no read may stall read_timeout_s;
//  - an idle keep-alive connection is closed after keep_alive_timeout_s;
//  - at most max_connections_per_client connections per client address
//    and max_connections in all: beyond them a new connection gets a canned
//    429 / 503 and is closed at once;
//  - requests per second per client address and per bearer token (token
//    buckets): beyond them 429 rate_limited with Retry-After.
// A client that half-closes (shutdown(SHUT_WR)) after its request still gets
// its answer: EOF is only noticed when the next request is read.
//
// Threads: Start/Stop from one controlling thread. Stop() closes the
// listener, closes idle and half-read connections, lets in-flight requests
// finish and be answered, then joins every thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "photo/core/status.h"
#include "photo/http/request.h"
#include "photo/http/router.h"

namespace photo::metrics {
class MetricsRegistry;
}

namespace photo::http {

struct ServerOptions {
  std::string host = "0.0.0.0";
  int port = 8000;  // 0 = any free port
  int io_threads = 2;
  int worker_threads = 64;
  int head_timeout_s = 10;
  int read_timeout_s = 30;   // longest stall of one body read
  int write_timeout_s = 30;  // longest stall of one write
  int keep_alive_timeout_s = 5;
  std::uint64_t max_header_bytes = 16 * 1024;
  std::uint64_t min_body_rate = 8 * 1024;  // bytes/s; 0 = off
  int body_rate_grace_s = 10;
  int max_connections = 20000;
  int max_connections_per_client = 256;  // 0 = no cap
  int retry_after_s = 5;
  // Token buckets (requests/s and burst; rate 0 = off) per client address
  // and per bearer token, for routes with Route::rate_limited: 429 +
  // Retry-After beyond them.
  double rate_per_client = 1000;
  double burst_per_client = 2000;
  double rate_per_token = 1000;
  double burst_per_token = 2000;
  // Origins allowed to call the API from a browser ("https://app.example",
  // or "*"); empty: no CORS headers. Preflights (OPTIONS) are answered 204.
  std::vector<std::string> cors_origins;
};

// Called once per answered request on an I/O thread, after the answer was
// written (or, for a stream, once its head was): for metrics and logs.
struct RequestSummary {
  const Request* request;
  std::string_view route;  // metric_route of the matched route, or "unmatched"
  int status;
  std::uint64_t body_bytes;
  double seconds;  // from the first byte of the head to the end of the write
};
using RequestObserver = std::function<void(const RequestSummary&)>;

class HttpServer {
 public:
  // `router` must outlive the server; `metrics` may be null.
  HttpServer(ServerOptions options, const Router* router, RequestObserver observer,
             metrics::MetricsRegistry* metrics);
  ~HttpServer();  // Stop()s
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Raises RLIMIT_NOFILE to its hard limit, binds, listens and starts the
  // threads. bind_failed (kUnavailable) when the address is taken or bad.
  Status Start();
  void Stop();
  bool running() const;
  int port() const;
  // Connections open now.
  int connections() const;

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace photo::http
