// `photo-pipeline api`: the HTTP API over the status store and an AMQP publisher.
#include <spdlog/spdlog.h>

#include <memory>

#include "photo/broker/amqp/amqp_operations.h"
#include "photo/broker/amqp/config.h"
#include "photo/broker/amqp/publisher_pool.h"
#include "photo/cli/commands.h"
#include "photo/http/api_config.h"
#include "photo/http/api_server.h"
#include "photo/image/vips.h"
#include "photo/storage/storage_factory.h"
#include "photo/store/status_store.h"

namespace photo::cli {
namespace {

struct ApiArgs {
  std::string listen;
};

int RunApi(const CommonSettings& s, const ApiArgs& args) {
  SetupLogging(s);
  BlockStopSignals();
  image::InitVips();

  http::ApiConfig config;
  if (Status st = config.LoadFromEnv(); !st.ok()) {
    PrintError(st.reason(), st.message());
    return 2;
  }
  config.data_dir = s.data_dir;
  if (!args.listen.empty()) {
    if (Status st = http::ParseListen(args.listen, &config.host, &config.port); !st.ok()) {
      PrintError(st.reason(), st.message());
      return 2;
    }
  }
  auto amqp = broker::amqp::AmqpConfig::FromEnv();
  if (!amqp) {
    PrintError(amqp.error().reason(), amqp.error().message());
    return 2;
  }
  amqp->url = s.amqp_url;
  amqp->connection_name = "photo-pipeline api";

  auto store = store::OpenStore(s.DbUrl());
  if (!store) {
    PrintError(store.error().reason(), store.error().message());
    return 2;
  }
  // Upload threads publish concurrently: one confirm channel each, up to
  // publish_connections at once (see publisher_pool.h).
  broker::amqp::AmqpPublisherPool publisher(*amqp, {.role = "api"}, amqp->publish_connections);
  // Not fatal: the API answers 503 until the broker is reachable.
  if (Status st = publisher.Connect(); !st.ok())
    spdlog::warn("broker not reachable yet ({}); uploads get 503 until it is", st.ToString());

  auto blobs = storage::OpenCheckedBlobStore(s.storage, s.data_dir);
  if (!blobs) {
    PrintError(blobs.error().reason(), blobs.error().message());
    return 2;
  }
  spdlog::info("api storage: {}", (*blobs)->Describe());

  // The operator routes' view of the broker (queue depth, parked jobs, replay).
  broker::amqp::AmqpOperations operations(*amqp);
  http::ApiServer server(config, {store->get(), &publisher, nullptr, {}, blobs->get(), &operations});
  if (Status st = server.Start(); !st.ok()) {
    PrintError(st.reason(), st.message());
    return 2;
  }
  spdlog::info("api listening on {}:{} (data {}, store {})", config.host, server.port(),
               config.data_dir.string(), broker::amqp::RedactUrl(s.DbUrl()));
  int sig = WaitForStopSignal([&] { return server.running(); });
  spdlog::info("api stopping (signal {}): draining in-flight requests", sig);
  server.Stop();
  spdlog::info("api stopped");
  return 0;
}

}  // namespace

void RegisterApi(CLI::App& app, CommonSettings* s, int* exit_code) {
  auto args = std::make_shared<ApiArgs>();
  CLI::App* cmd = app.add_subcommand("api", "Serve the HTTP API (see docs/api.md)");
  AddCommonOptions(cmd, s);
  cmd->add_option("--listen", args->listen, "host:port (default 0.0.0.0:8000)")
      ->envname("PHOTO_PIPELINE_LISTEN");
  cmd->callback([s, args, exit_code] { *exit_code = RunApi(*s, *args); });
}

}  // namespace photo::cli
