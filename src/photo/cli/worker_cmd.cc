// `photo-pipeline worker <stage>...`: one AMQP consumer loop per stage (and
// per --concurrency slot), each running worker::HandleJob on its job thread.
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <httplib.h>

#include "photo/broker/amqp/config.h"
#include "photo/broker/amqp/consumer_loop.h"
#include "photo/cli/commands.h"
#include "photo/http/metrics.h"
#include "photo/image/vips.h"
#include "photo/signing/url_signer.h"
#include "photo/storage/local_blob_store.h"
#include "photo/storage/storage_factory.h"
#include "photo/similar/store_index.h"
#include "photo/store/status_store.h"
#include "photo/worker/job_handler.h"
#include "photo/worker/staging.h"

namespace photo::cli {
namespace {

namespace amqp = broker::amqp;

struct WorkerArgs {
  std::vector<std::string> stages;
  int concurrency = 1;
  std::string metrics_listen;  // "" = no listener
  int max_redeliveries = 5;
  std::string work_dir;  // "" = <data dir>/work
};

void DeclareWorkerMetrics(metrics::MetricsRegistry& m) {
  m.DeclareCounter("photo_jobs_total", "Jobs handled, by stage and outcome (ack, retry, park)");
  m.DeclareCounter("photo_jobs_redelivered_total",
                   "Deliveries the broker marked as redelivered, by stage");
  m.DeclareCounter("photo_jobs_deduplicated_total",
                   "Redelivered jobs whose stage had already completed (no work redone)");
  m.DeclareCounter("photo_images_finished_total", "Images that reached completed or failed");
  m.DeclareCounter("photo_jobs_image_deleted_total",
                   "Jobs whose image was deleted while they waited or ran (its files erased, nothing published)");
  m.DeclareGauge("photo_jobs_in_flight", "Jobs being processed now, by stage");
  m.DeclareHistogram("photo_stage_duration_seconds", "Wall time of one job, by stage",
                     metrics::DefaultLatencyBuckets());
  m.DeclareHistogram("photo_upload_to_complete_seconds",
                     "From upload accepted to completed/failed, seen by the detect stage",
                     {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900});
}

// /metrics, /healthz, /readyz for one worker process. Ready = the store
// answers and every consumer is registered with the broker.
class MetricsListener {
 public:
  MetricsListener(metrics::MetricsRegistry* m, std::function<bool()> ready)
      : metrics_(m), ready_(std::move(ready)) {}
  ~MetricsListener() { Stop(); }

  Status Start(const std::string& listen) {
    std::string host = listen.substr(0, listen.rfind(':'));
    int port = std::atoi(listen.c_str() + listen.rfind(':') + 1);
    if (listen.find(':') == std::string::npos || port < 0 || port > 65535)
      return InvalidArgumentError("bad_config", "PHOTO_PIPELINE_METRICS_LISTEN: host:port, got " + listen);
    if (host.empty()) host = "0.0.0.0";
    server_.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
      res.set_content(metrics_->RenderText(), "text/plain; version=0.0.4; charset=utf-8");
    });
    server_.Get("/healthz", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"status":"ok"})", "application/json");
    });
    server_.Get("/readyz", [this](const httplib::Request&, httplib::Response& res) {
      bool ok = ready_();
      res.status = ok ? 200 : 503;
      res.set_content(ok ? R"({"status":"ready"})" : R"({"status":"not_ready"})",
                      "application/json");
    });
    if (port == 0) {
      port = server_.bind_to_any_port(host);
    } else if (!server_.bind_to_port(host, port)) {
      port = -1;
    }
    if (port < 0) return UnavailableError("bind_failed", "cannot listen on " + listen);
    port_ = port;
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    return Status::Ok();
  }
  void Stop() {
    if (thread_.joinable()) {
      server_.stop();
      thread_.join();
    }
  }
  int port() const { return port_; }

 private:
  metrics::MetricsRegistry* metrics_;
  std::function<bool()> ready_;
  httplib::Server server_;
  std::thread thread_;
  int port_ = 0;
};

amqp::Disposition ToDisposition(worker::Outcome o) {
  switch (o.kind) {
    case worker::Outcome::Kind::kAck: return amqp::Disposition::Ack(std::move(o.publish));
    case worker::Outcome::Kind::kRetry:
      return amqp::Disposition::Retry(o.error, std::move(o.publish));
    case worker::Outcome::Kind::kPark:
      return amqp::Disposition::Park(o.error, std::move(o.publish));
  }
  return amqp::Disposition::Retry(InternalError("bad_outcome", "unknown outcome"));
}

int RunWorker(const CommonSettings& s, const WorkerArgs& args) {
  SetupLogging(s);
  BlockStopSignals();
  image::InitVips();

  auto config = std::make_unique<worker::PipelineConfig>();
  if (Status st = config->LoadFromEnv(); !st.ok()) {
    PrintError(st.reason(), st.message());
    return 2;
  }
  // The last stage signs the rendition URLs of its events with the API's key.
  signing::SigningSettings signing;
  if (Status st = signing::LoadSigningSettings([](const char* n) { return std::getenv(n); }, &signing); !st.ok()) {
    PrintError(st.reason(), st.message());
    return 2;
  }
  const signing::UrlSigner signer = signing.Signer();
  auto amqp_config = amqp::AmqpConfig::FromEnv();
  if (!amqp_config) {
    PrintError(amqp_config.error().reason(), amqp_config.error().message());
    return 2;
  }
  amqp_config->url = s.amqp_url;
  auto store = store::OpenStore(s.DbUrl());
  if (!store) {
    PrintError(store.error().reason(), store.error().message());
    return 2;
  }
  // Load the face model now: a missing model should stop the worker at
  // start, not fail (and park) every image it is given.
  for (const auto& stage : args.stages) {
    if (stage != "detect") continue;
    if (Status st = pipeline::PrepareDetect(config->detect); !st.ok()) {
      PrintError(st.reason(), st.message());
      return 2;
    }
  }
  auto blobs = storage::OpenCheckedBlobStore(s.storage, s.data_dir);
  if (!blobs) {
    PrintError(blobs.error().reason(), blobs.error().message());
    return 2;
  }
  // Scratch space for remote storage; cleaned at start (a worker killed
  // mid-job leaves its copies behind) and when this process ends.
  const std::string work_dir = args.work_dir.empty() ? s.data_dir + "/work" : args.work_dir;
  auto scratch = worker::ScratchRoot::Open(work_dir);
  if (!scratch) {
    PrintError(scratch.error().reason(), scratch.error().message());
    return 2;
  }
  pipeline::Layout layout(s.data_dir);
  worker::JobContext ctx{store->get(), &layout, config.get(), worker::FaultInjection::FromEnv()};
  ctx.max_redeliveries = args.max_redeliveries;
  ctx.signer = &signer;
  // Detect lists the earlier near-duplicates of each image: the hash index
  // is read from the store now, then kept in step.
  std::unique_ptr<similar::StoreHashIndex> hashes;
  if (std::find(args.stages.begin(), args.stages.end(), "detect") != args.stages.end()) {
    hashes = std::make_unique<similar::StoreHashIndex>(**store);
    if (Status st = hashes->CatchUp(); !st.ok()) {
      PrintError(st.reason(), st.message());
      return 2;
    }
    spdlog::info("similar-photo index: {} hashes", hashes->index().size());
    ctx.similar = hashes.get();
  }
  // Local storage: the stages read and write the data dir in place, and a
  // deleted image's files are erased there, as the API erases them.
  std::unique_ptr<storage::BlobStore> local_blobs;
  if (!(*blobs)->LocalPath("images").has_value()) {
    ctx.remote_blobs = blobs->get();
    ctx.scratch_dir = (*scratch)->dir();
    ctx.blobs = ctx.remote_blobs;
  } else {
    local_blobs = std::make_unique<storage::LocalBlobStore>(s.data_dir);
    ctx.blobs = local_blobs.get();
  }
  spdlog::info("worker storage: {}", (*blobs)->Describe());
  if (ctx.fault.fail_attempts > 0)
    spdlog::warn("fault injection on: first {} attempts of every {} job fail",
                 ctx.fault.fail_attempts, ctx.fault.stage);
  if (ctx.fault.after_outputs) spdlog::warn("fault injection on: PHOTO_PIPELINE_FAULT_PAUSE holds jobs before recording");

  metrics::MetricsRegistry metrics;
  DeclareWorkerMetrics(metrics);
  std::mutex in_flight_mu;  // read-modify-write of the in-flight gauge
  auto add_in_flight = [&](const metrics::Labels& l, double d) {
    std::lock_guard<std::mutex> lock(in_flight_mu);
    metrics.Set("photo_jobs_in_flight", l, metrics.Value("photo_jobs_in_flight", l) + d);
  };
  std::vector<std::unique_ptr<amqp::ConsumerLoop>> loops;
  for (const std::string& stage : args.stages) {
    for (int i = 0; i < args.concurrency; ++i) {
      amqp::ConsumerOptions opts;
      opts.queue = stage;
      opts.stage = stage;
      opts.role = "worker " + stage;
      auto handler = [&ctx, &metrics, &add_in_flight, stage](const amqp::Delivery& d, std::stop_token) {
        worker::Delivery wd;
        wd.stage = stage;
        wd.body = d.body;
        wd.attempt = d.attempt;
        wd.redelivered = d.redelivered;
        wd.last_attempt = d.last_attempt();
        wd.operator_replay = d.headers.count("x-replays") > 0;
        auto job = broker::ParseJob(d.body);
        const std::string id = job ? job->id : "?";
        spdlog::debug("{} image_id={} attempt={} redelivered={}", stage, id, d.attempt,
                      d.redelivered);
        const metrics::Labels by_stage{{"stage", stage}};
        if (d.redelivered) metrics.Add("photo_jobs_redelivered_total", by_stage);
        add_in_flight(by_stage, 1);
        const auto t0 = std::chrono::steady_clock::now();
        worker::Outcome o = worker::HandleJob(ctx, wd);
        const double secs =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        add_in_flight(by_stage, -1);
        metrics.Observe("photo_stage_duration_seconds", by_stage, secs);
        const char* outcome = o.kind == worker::Outcome::Kind::kAck     ? "ack"
                              : o.kind == worker::Outcome::Kind::kRetry ? "retry"
                                                                        : "park";
        metrics.Add("photo_jobs_total", {{"stage", stage}, {"outcome", outcome}});
        if (o.redelivery_of_done_work) metrics.Add("photo_jobs_deduplicated_total", by_stage);
        if (o.image_deleted) metrics.Add("photo_jobs_image_deleted_total", by_stage);
        if (o.upload_to_final_ms) {
          metrics.Add("photo_images_finished_total");
          metrics.Observe("photo_upload_to_complete_seconds", {}, *o.upload_to_final_ms / 1000.0);
        }
        if (o.kind != worker::Outcome::Kind::kAck)
          spdlog::warn("{} image_id={} attempt={}: {} ({})", stage, id, d.attempt,
                       o.kind == worker::Outcome::Kind::kRetry ? "retry" : "park",
                       o.error.ToString());
        else if (o.image_deleted)
          spdlog::info("{} image_id={}: image deleted; its files erased, nothing published", stage, id);
        else
          spdlog::info("{} image_id={} done", stage, id);
        return ToDisposition(std::move(o));
      };
      loops.push_back(std::make_unique<amqp::ConsumerLoop>(*amqp_config, opts, handler));
    }
  }

  MetricsListener listener(&metrics, [&] {
    if (!ctx.store->Ping().ok()) return false;
    for (const auto& l : loops)
      if (!l->consuming()) return false;
    return true;
  });
  if (!args.metrics_listen.empty()) {
    if (Status st = listener.Start(args.metrics_listen); !st.ok()) {
      PrintError(st.reason(), st.message());
      return 2;
    }
    spdlog::info("worker metrics on {}:{}/metrics",
                 args.metrics_listen.substr(0, args.metrics_listen.rfind(':')), listener.port());
  }

  std::atomic<int> running{0};
  std::atomic<bool> failed{false};
  std::vector<std::jthread> threads;
  for (auto& loop : loops) {
    ++running;
    threads.emplace_back([&, l = loop.get()](std::stop_token st) {
      Status r = l->Run(st);
      if (!r.ok()) {
        spdlog::error("consumer stopped: {}", r.ToString());
        failed = true;
      }
      --running;
    });
  }
  std::string names;
  for (const auto& st : args.stages) names += (names.empty() ? "" : ",") + st;
  spdlog::info("worker consuming {} (x{}) from {}", names, args.concurrency,
               amqp::RedactUrl(s.amqp_url));
  int sig = WaitForStopSignal([&] { return running.load() > 0; });
  spdlog::info("worker stopping (signal {}): finishing in-flight jobs", sig);
  for (auto& t : threads) t.request_stop();
  threads.clear();  // joins
  listener.Stop();
  spdlog::info("worker stopped");
  return failed ? 1 : 0;
}

}  // namespace

void RegisterWorker(CLI::App& app, CommonSettings* s, int* exit_code) {
  auto args = std::make_shared<WorkerArgs>();
  CLI::App* cmd = app.add_subcommand("worker", "Consume and run one or more stages");
  AddCommonOptions(cmd, s);
  cmd->add_option("stages", args->stages, "resize, watermark and/or detect")
      ->required()
      ->check(CLI::IsMember({"resize", "watermark", "detect"}));
  cmd->add_option("--concurrency", args->concurrency, "Consumers per stage in this process")
      ->envname("PHOTO_PIPELINE_WORKER_CONCURRENCY")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  cmd->add_option("--max-redeliveries", args->max_redeliveries,
                  "Park a job as crash_loop after this many broker redeliveries of one stage")
      ->envname("PHOTO_PIPELINE_MAX_REDELIVERIES")
      ->check(CLI::Range(1, 1000))
      ->capture_default_str();
  cmd->add_option("--work-dir", args->work_dir,
                  "Scratch folder for jobs' temporary copies with remote storage (default <data dir>/work)")
      ->envname("PHOTO_PIPELINE_WORK_DIR");
  cmd->add_option("--metrics-listen", args->metrics_listen,
                  "host:port for /metrics, /healthz, /readyz (port 0 = any; empty = off)")
      ->envname("PHOTO_PIPELINE_METRICS_LISTEN");
  // Secrets are never flags (a process list would show them).
  cmd->footer(
      "Signed URLs in events: PHOTO_PIPELINE_SIGNING_KEY (or _FILE), PHOTO_PIPELINE_SIGNING_KEY_PREVIOUS\n"
      "(or _FILE) and PHOTO_PIPELINE_SIGNED_URL_TTL, the same values as the API's.");
  cmd->callback([s, args, exit_code] { *exit_code = RunWorker(*s, *args); });
}

}  // namespace photo::cli
