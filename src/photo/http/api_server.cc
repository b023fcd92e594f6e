#include "photo/http/api_server.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <filesystem>

#include "photo/core/files.h"
#include "photo/http/routes.h"
#include "photo/http/server.h"
#include "photo/storage/local_blob_store.h"

namespace photo::http {
namespace fs = std::filesystem;

namespace {

constexpr char kUploadedTmpPrefix[] = "upload-";
constexpr char kMetricRequests[] = "photo_http_requests_total";
constexpr char kMetricDuration[] = "photo_http_request_duration_seconds";

// Upload temp files of a crashed process. Other API processes may share the
// data dir, so only files too old to belong to a live upload go.
void RemoveStaleTempFiles(const fs::path& tmp_dir) {
  std::error_code ec;
  const auto cutoff = fs::file_time_type::clock::now() - std::chrono::hours(1);
  for (const auto& entry : fs::directory_iterator(tmp_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kUploadedTmpPrefix, 0) != 0) continue;
    std::error_code e2;
    if (entry.last_write_time(e2) < cutoff && !e2) fs::remove(entry.path(), e2);
  }
}

ServerOptions OptionsFrom(const ApiConfig& c) {
  ServerOptions o;
  o.host = c.host;
  o.port = c.port;
  o.io_threads = c.io_threads;
  o.worker_threads = c.threads;
  o.head_timeout_s = c.head_timeout_s;
  o.read_timeout_s = c.read_timeout_s;
  o.write_timeout_s = c.write_timeout_s;
  o.keep_alive_timeout_s = c.keep_alive_timeout_s;
  o.max_header_bytes = c.max_header_bytes;
  o.min_body_rate = c.min_body_rate;
  o.body_rate_grace_s = c.body_rate_grace_s;
  o.max_connections = c.max_connections;
  o.max_connections_per_client = c.max_connections_per_client;
  o.retry_after_s = c.retry_after_s;
  o.rate_per_client = c.rate_per_client;
  o.burst_per_client = c.burst_per_client;
  o.rate_per_token = c.rate_per_token;
  o.burst_per_token = c.burst_per_token;
  o.cors_origins = c.cors_origins;
  return o;
}

}  // namespace

Status RegisterAllRoutes(Router& router, ApiContext& ctx) {
  RETURN_IF_ERROR(RegisterUploadRoutes(router, ctx));
  RETURN_IF_ERROR(RegisterSimilarRoutes(router, ctx));  // before /images/{id}/{rendition}
  RETURN_IF_ERROR(RegisterImageRoutes(router, ctx));
  RETURN_IF_ERROR(RegisterOpsRoutes(router, ctx));
  RETURN_IF_ERROR(RegisterWebAppRoutes(router, ctx));
  RETURN_IF_ERROR(RegisterEventRoutes(router, ctx));
  RETURN_IF_ERROR(RegisterAdminRoutes(router, ctx));
  return Status::Ok();
}

ApiServer::ApiServer(ApiConfig config, ApiDeps deps) : ctx_(std::make_unique<ApiContext>()) {
  ctx_->config = std::move(config);
  ctx_->store = deps.store;
  ctx_->publisher = deps.publisher;
  ctx_->operations = deps.operations;
  ctx_->layout = pipeline::Layout(ctx_->config.data_dir);
  ctx_->probe = deps.probe ? std::move(deps.probe) : DefaultProbe();
  if (deps.blobs != nullptr && !deps.blobs->LocalPath("images").has_value()) ctx_->remote_blobs = deps.blobs;
  // Without remote storage the API keeps files under its data dir (layout).
  if (ctx_->remote_blobs == nullptr) owned_blobs_ = std::make_unique<storage::LocalBlobStore>(ctx_->config.data_dir);
  ctx_->blobs = ctx_->remote_blobs != nullptr ? ctx_->remote_blobs : owned_blobs_.get();
  ctx_->signer = ctx_->config.signing.Signer();
  if (deps.metrics == nullptr) {
    owned_metrics_ = std::make_unique<metrics::MetricsRegistry>();
    ctx_->metrics = owned_metrics_.get();
  } else {
    ctx_->metrics = deps.metrics;
  }
  ctx_->metrics->DeclareCounter(kMetricRequests, "HTTP requests answered, by route, method and status code.");
  ctx_->metrics->DeclareHistogram(kMetricDuration, "Time from the request's first byte to the answer written, by route.",
                                  metrics::DefaultLatencyBuckets());
  registered_ = RegisterAllRoutes(router_, *ctx_);
}

ApiServer::~ApiServer() { Stop(); }

std::vector<std::string> ApiServer::Routes() {
  ApiContext ctx;
  metrics::MetricsRegistry m;
  ctx.metrics = &m;
  Router r;
  if (Status s = RegisterAllRoutes(r, ctx); !s.ok()) spdlog::error("routes: {}", s.ToString());
  return r.List();
}

int ApiServer::port() const { return server_ ? server_->port() : 0; }
bool ApiServer::running() const { return server_ != nullptr && server_->running(); }

Status ApiServer::Start() {
  if (server_ != nullptr) return FailedPreconditionError("already_started", "ApiServer::Start called twice");
  const ApiConfig& config = ctx_->config;
  RETURN_IF_ERROR(config.Validate());
  RETURN_IF_ERROR(registered_);
  if (ctx_->store == nullptr || ctx_->publisher == nullptr) {
    return InvalidArgumentError("bad_config", "ApiServer needs a store and a publisher");
  }
  for (const char* sub : {"tmp", "images"}) {
    if (Status s = MakeDirs(config.data_dir / sub); !s.ok()) return InternalError("io_error", s.message());
  }
  RemoveStaleTempFiles(config.data_dir / "tmp");

  metrics::MetricsRegistry* m = ctx_->metrics;
  const bool access_log = config.access_log;
  auto observer = [m, access_log](const RequestSummary& s) {
    const Request& req = *s.request;
    const std::string route(s.route);
    m->Add(kMetricRequests, {{"route", route}, {"method", req.method}, {"code", std::to_string(s.status)}});
    m->Observe(kMetricDuration, {{"route", route}}, s.seconds);
    if (access_log) {
      spdlog::info("{} \"{} {}\" {} {} {:.1f}ms", req.remote_address, req.method, req.target, s.status,
                   s.body_bytes, s.seconds * 1000.0);
    }
  };
  auto server = std::make_unique<HttpServer>(OptionsFrom(config), &router_, observer, m);
  RETURN_IF_ERROR(server->Start());
  server_ = std::move(server);
  spdlog::info("api listening on {}:{} (data dir {}, max image {} bytes, {} I/O threads, {} workers)", config.host,
               server_->port(), config.data_dir.string(), config.limits.max_bytes, config.io_threads,
               config.threads);
  return Status::Ok();
}

void ApiServer::Stop() {
  if (server_ == nullptr) return;
  server_->Stop();
}

}  // namespace photo::http
