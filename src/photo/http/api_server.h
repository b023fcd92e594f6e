// ApiServer: the HTTP API of docs/api.md, composed of the route files
// (routes.h) on the event-driven HttpServer (server.h, Boost.Beast).
//
//   POST /upload/, POST /upload   multipart field `file` -> 202 once the original
//                                 is durable, the record exists and the resize
//                                 job is confirmed by the broker
//   GET  /status/{id}             the image record (store/record_json.h)
//   GET  /images/{id}/{rendition} rendition bytes ("original" included)
//   GET  /healthz, /readyz        liveness, readiness (store + broker Ping)
//   GET  /metrics                 Prometheus text
//   GET  /openapi.json, /docs     the spec (docs/openapi.json) and its HTML page
//
// Every error is {"error": {"code", "message"}} with the status of the table
// in docs/api.md.
//
// Threads: Start/Stop/port from one controlling thread; handlers run on the
// server's worker pool and call the store and publisher concurrently, which
// both promise thread safety.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "photo/broker/publisher.h"
#include "photo/core/status.h"
#include "photo/http/api_config.h"
#include "photo/http/api_context.h"
#include "photo/http/metrics.h"
#include "photo/http/router.h"
#include "photo/storage/blob_store.h"
#include "photo/store/status_store.h"

namespace photo::http {

class HttpServer;

struct ApiDeps {
  store::StatusStore* store = nullptr;          // required; not owned; outlives the server
  broker::Publisher* publisher = nullptr;       // required; not owned; outlives the server
  metrics::MetricsRegistry* metrics = nullptr;  // optional; the server owns one if null
  ProbeFn probe;                                // optional; the file probe if empty
  // optional; not owned. A store with no LocalPath (S3) keeps originals and
  // serves renditions; null or a local one = files under config.data_dir.
  storage::BlobStore* blobs = nullptr;
  broker::Operations* operations = nullptr;     // optional; operator routes answer 501 without
};

class ApiServer {
 public:
  ApiServer(ApiConfig config, ApiDeps deps);
  ~ApiServer();  // Stop()s
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Validates the config, creates <data>/tmp and <data>/images, removes
  // upload temp files older than an hour (left by a crash), binds
  // config.host:config.port and starts serving. Returns once the server
  // accepts connections.
  // Errors: bad_config (kInvalidArgument), io_error (data dir not writable),
  // bind_failed (kUnavailable: port in use, bad host), already_started.
  Status Start();

  // The bound port (the real one when config.port was 0); 0 before Start().
  int port() const;

  // Stops accepting connections and returns once every in-flight request has
  // been answered (idle connections are closed at once). Idempotent; safe
  // before Start().
  void Stop();

  bool running() const;

  const ApiConfig& config() const { return ctx_->config; }
  metrics::MetricsRegistry& metrics() { return *ctx_->metrics; }
  // The routes, for adding more before Start() (tests, embedders).
  Router& router() { return router_; }

  // Every route the server registers, "METHOD /path/{param}", in registration
  // order: what /openapi.json must describe (checked by a test).
  static std::vector<std::string> Routes();

 private:
  std::unique_ptr<ApiContext> ctx_;
  std::unique_ptr<metrics::MetricsRegistry> owned_metrics_;
  std::unique_ptr<storage::BlobStore> owned_blobs_;  // local files, when ApiDeps::blobs is null
  Router router_;
  Status registered_;
  std::unique_ptr<HttpServer> server_;
};

// Adds every route of the API to `router` (routes.h).
Status RegisterAllRoutes(Router& router, ApiContext& ctx);

}  // namespace photo::http
