// `photo-pipeline events`: a durable queue bound to processed_images, each
// event printed as one JSON line — the seed's notification/storage/monitoring
// listeners in miniature.
#include <spdlog/spdlog.h>

#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "photo/broker/amqp/config.h"
#include "photo/broker/amqp/event_subscriber.h"
#include "photo/broker/amqp/topology.h"
#include "photo/cli/commands.h"

namespace photo::cli {
namespace {

namespace amqp = broker::amqp;

struct EventsArgs {
  std::string queue = "events.listener";
};

int RunEvents(const CommonSettings& s, const EventsArgs& args) {
  SetupLogging(s);
  BlockStopSignals();
  auto config = amqp::AmqpConfig::FromEnv();
  if (!config) {
    PrintError(config.error().reason(), config.error().message());
    return 2;
  }
  config->url = s.amqp_url;
  config->event_queues.push_back(args.queue);
  std::mutex out_mu;
  amqp::EventSubscriber sub(*config, args.queue, [&](const amqp::Delivery& d) {
    std::lock_guard<std::mutex> lock(out_mu);
    std::cout << d.body << '\n' << std::flush;
    if (!std::cout) return UnavailableError("stdout_closed", "cannot write the event");
    return Status::Ok();
  });
  std::atomic<bool> done{false};
  Status result;
  std::jthread t([&](std::stop_token st) {
    result = sub.Run(st);
    done = true;
  });
  // Tell a reader when the queue is bound: events published earlier would
  // not have reached it.
  bool announced = false;
  int sig = WaitForStopSignal([&] {
    if (!announced && sub.consuming()) {
      std::lock_guard<std::mutex> lock(out_mu);
      std::cout << nlohmann::json{{"listening", args.queue}}.dump() << '\n' << std::flush;
      announced = true;
    }
    return !done.load();
  });
  spdlog::info("events listener stopping (signal {})", sig);
  t.request_stop();
  t.join();
  if (!result.ok()) {
    PrintError(result.reason(), result.message());
    return 1;
  }
  return 0;
}

}  // namespace

void RegisterEvents(CLI::App& app, CommonSettings* s, int* exit_code) {
  auto args = std::make_shared<EventsArgs>();
  CLI::App* cmd = app.add_subcommand(
      "events", "Subscribe a durable queue to processed_images and print each event as a JSON line");
  AddCommonOptions(cmd, s);
  cmd->add_option("--queue", args->queue, "Subscriber queue name (durable, bound to processed_images)")
      ->capture_default_str();
  cmd->callback([s, args, exit_code] { *exit_code = RunEvents(*s, *args); });
}

}  // namespace photo::cli
