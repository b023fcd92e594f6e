// `photo-pipeline worker <stage>...`: one AMQP consumer loop per stage (and
// per --concurrency slot), each running worker::HandleJob on its job thread.
#include <spdlog/spdlog.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "photo/broker/amqp/config.h"
#include "photo/broker/amqp/consumer_loop.h"
#include "photo/cli/commands.h"
#include "photo/image/vips.h"
#include "photo/store/status_store.h"
#include "photo/worker/job_handler.h"

namespace photo::cli {
namespace {

namespace amqp = broker::amqp;

struct WorkerArgs {
  std::vector<std::string> stages;
  int concurrency = 1;
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
  pipeline::Layout layout(s.data_dir);
  worker::JobContext ctx{store->get(), &layout, config.get(), worker::FaultInjection::FromEnv()};
  if (ctx.fault.fail_attempts > 0)
    spdlog::warn("fault injection on: first {} attempts of every {} job fail",
                 ctx.fault.fail_attempts, ctx.fault.stage);

  std::vector<std::unique_ptr<amqp::ConsumerLoop>> loops;
  for (const std::string& stage : args.stages) {
    for (int i = 0; i < args.concurrency; ++i) {
      amqp::ConsumerOptions opts;
      opts.queue = stage;
      opts.stage = stage;
      opts.role = "worker " + stage;
      auto handler = [&ctx, stage](const amqp::Delivery& d, std::stop_token) {
        worker::Delivery wd;
        wd.stage = stage;
        wd.body = d.body;
        wd.attempt = d.attempt;
        wd.redelivered = d.redelivered;
        wd.last_attempt = d.last_attempt();
        auto job = broker::ParseJob(d.body);
        const std::string id = job ? job->id : "?";
        spdlog::debug("{} image_id={} attempt={} redelivered={}", stage, id, d.attempt,
                      d.redelivered);
        worker::Outcome o = worker::HandleJob(ctx, wd);
        if (o.kind != worker::Outcome::Kind::kAck)
          spdlog::warn("{} image_id={} attempt={}: {} ({})", stage, id, d.attempt,
                       o.kind == worker::Outcome::Kind::kRetry ? "retry" : "park",
                       o.error.ToString());
        else
          spdlog::info("{} image_id={} done", stage, id);
        return ToDisposition(std::move(o));
      };
      loops.push_back(std::make_unique<amqp::ConsumerLoop>(*amqp_config, opts, handler));
    }
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
  cmd->callback([s, args, exit_code] { *exit_code = RunWorker(*s, *args); });
}

}  // namespace photo::cli
