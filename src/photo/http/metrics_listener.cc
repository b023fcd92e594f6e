#include "photo/http/metrics_listener.h"

#include <spdlog/spdlog.h>

#include <utility>

#include "photo/http/listen_address.h"
#include "photo/http/probe_routes.h"
#include "photo/http/responses.h"
#include "photo/http/server.h"

namespace photo::http {
namespace {

Status RegisterRoutes(Router& router, const metrics::MetricsRegistry* metrics,
                      std::function<bool()> ready) {
  RETURN_IF_ERROR(router.Add(MetricsRoute(metrics)));
  RETURN_IF_ERROR(router.Add(HealthzRoute()));
  return router.Add({.method = "GET",
                     .pattern = "/readyz",
                     .handler =
                         [ready = std::move(ready)](const Request&) {
                           return ready() ? JsonResponse(200, {{"status", "ready"}})
                                          : JsonResponse(503, {{"status", "not_ready"}});
                         },
                     .rate_limited = false});
}

// A scrape endpoint, not a public front end: few threads, few connections,
// no rate limits (every route opts out), no CORS.
ServerOptions ListenerOptions(std::string host, int port) {
  ServerOptions o;
  o.host = std::move(host);
  o.port = port;
  o.io_threads = 1;
  o.worker_threads = 2;
  o.max_connections = 256;
  o.max_connections_per_client = 64;
  return o;
}

}  // namespace

MetricsListener::MetricsListener(const metrics::MetricsRegistry* metrics,
                                 std::function<bool()> ready)
    : registered_(RegisterRoutes(router_, metrics, std::move(ready))) {}

MetricsListener::~MetricsListener() { Stop(); }

Status MetricsListener::Start(std::string_view listen) {
  if (server_ != nullptr)
    return FailedPreconditionError("already_started", "MetricsListener::Start called twice");
  RETURN_IF_ERROR(registered_);
  std::string host;
  int port = 0;
  if (Status s = ParseListen(listen, &host, &port); !s.ok()) {
    return InvalidArgumentError("bad_config", "PHOTO_PIPELINE_METRICS_LISTEN: " + s.message());
  }
  // Not counted: the registry is the process's own, and a scrape should not
  // change what the next scrape reads.
  auto server = std::make_unique<HttpServer>(ListenerOptions(host, port), &router_,
                                             RequestObserver{}, nullptr);
  if (Status s = server->Start(); !s.ok()) {
    // The cause (address in use, bad host) goes to the log; the error keeps
    // the text operators and scripts know.
    spdlog::error("metrics listener: {}", s.message());
    return UnavailableError("bind_failed", "cannot listen on " + std::string(listen));
  }
  server_ = std::move(server);
  return Status::Ok();
}

int MetricsListener::port() const { return server_ ? server_->port() : 0; }

void MetricsListener::Stop() {
  if (server_ != nullptr) server_->Stop();
}

}  // namespace photo::http
