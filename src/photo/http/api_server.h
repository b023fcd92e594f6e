// ApiServer: the HTTP API of docs/api.md on cpp-httplib.
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
// in docs/api.md. The upload path never holds the body in memory: the `file`
// part streams to a temp file under <data>/tmp, is probed from there, and is
// renamed to layout.Original(id). If the store or the broker refuses, the
// original and the record are removed before the 503 goes out, so a client
// that saw no 202 left nothing behind.
//
// Threads: Start/Stop/port from one controlling thread; handlers run on the
// server's own pool (config.threads) and call the store and publisher
// concurrently, which both promise thread safety.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "photo/broker/publisher.h"
#include "photo/core/status.h"
#include "photo/http/api_config.h"
#include "photo/http/metrics.h"
#include "photo/image/types.h"
#include "photo/pipeline/layout.h"
#include "photo/store/status_store.h"

namespace httplib {
class Server;
}  // namespace httplib

namespace photo::http {

// Decides what an uploaded file is. The default runs image::ProbeBuffer over
// the file: read into a buffer up to 1 MiB, a read-only mmap
// above (same answers as image::ProbeFile, without a whole-file copy of a big
// upload). A seam for tests.
using ProbeFn = std::function<Result<image::ProbeInfo>(const std::filesystem::path&,
                                                       const image::Limits&)>;

struct ApiDeps {
  store::StatusStore* store = nullptr;      // required; not owned; outlives the server
  broker::Publisher* publisher = nullptr;   // required; not owned; outlives the server
  metrics::MetricsRegistry* metrics = nullptr;  // optional; the server owns one if null
  ProbeFn probe;                            // optional; the file probe above if empty
};

class ApiServer {
 public:
  ApiServer(ApiConfig config, ApiDeps deps);
  ~ApiServer();  // Stop()s
  ApiServer(const ApiServer&) = delete;
  ApiServer& operator=(const ApiServer&) = delete;

  // Validates the config, creates <data>/tmp and <data>/images, removes
  // upload temp files older than an hour (left by a crash), binds
  // config.host:config.port and starts serving on a background thread.
  // Returns once the server accepts connections.
  // Errors: bad_config (kInvalidArgument), io_error (data dir not writable),
  // bind_failed (kUnavailable: port in use, bad host), already_started.
  Status Start();

  // The bound port (the real one when config.port was 0); 0 before Start().
  int port() const { return port_.load(); }

  // Stops accepting connections and returns once every in-flight request has
  // been answered (idle keep-alive connections are dropped after at most
  // keep_alive_timeout_s). Idempotent; safe before Start().
  void Stop();

  bool running() const;

  const ApiConfig& config() const { return config_; }
  metrics::MetricsRegistry& metrics() { return *metrics_; }

  // Every route the server registers, "METHOD /path/{param}", in registration
  // order: what /openapi.json must describe (checked by a test).
  static std::vector<std::string> Routes();

 private:
  class Handlers;

  ApiConfig config_;
  ApiDeps deps_;
  std::unique_ptr<metrics::MetricsRegistry> owned_metrics_;
  metrics::MetricsRegistry* metrics_ = nullptr;
  pipeline::Layout layout_;
  std::unique_ptr<httplib::Server> server_;
  std::unique_ptr<Handlers> handlers_;
  std::thread listener_;
  std::atomic<int> port_{0};
  std::atomic<bool> listener_done_{false};
};

}  // namespace photo::http
