// MetricsListener: GET /metrics, /healthz and /readyz of a process that is
// not the API (the workers: PHOTO_PIPELINE_METRICS_LISTEN), on the same
// HttpServer (server.h, Boost.Beast) and probe routes (probe_routes.h) as the
// API.
//
//   GET /metrics  200, the registry in Prometheus text format
//   GET /healthz  200 {"status":"ok"}
//   GET /readyz   200 {"status":"ready"} or 503 {"status":"not_ready"}, as
//                 the `ready` callback says
//
// One I/O thread and two pool threads: /readyz may block (the callback pings
// the store), /metrics and /healthz never do, so a slow store never delays a
// scrape. The listener's own traffic is not counted in the registry.
//
// Threads: Start/Stop/port from one controlling thread; `ready` runs on the
// pool, possibly on two threads at once.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "photo/core/status.h"
#include "photo/http/metrics.h"
#include "photo/http/router.h"

namespace photo::http {

class HttpServer;

class MetricsListener {
 public:
  // `metrics` is not owned and outlives the listener.
  MetricsListener(const metrics::MetricsRegistry* metrics, std::function<bool()> ready);
  ~MetricsListener();  // Stop()s
  MetricsListener(const MetricsListener&) = delete;
  MetricsListener& operator=(const MetricsListener&) = delete;

  // Binds `listen` ("host:port", "[v6]:port" or ":port"; port 0 = any free
  // port) and serves until Stop(). Errors: bad_config (kInvalidArgument, the
  // address does not parse), bind_failed (kUnavailable, "cannot listen on
  // <listen>"), already_started.
  Status Start(std::string_view listen);

  // The bound port (the real one when the address said 0); 0 before Start().
  int port() const;

  // Answers what is in flight, then closes. Idempotent; safe before Start().
  void Stop();

 private:
  Router router_;
  Status registered_;
  std::unique_ptr<HttpServer> server_;
};

}  // namespace photo::http
