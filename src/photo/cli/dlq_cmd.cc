// `photo-pipeline dlq list|replay|purge [--stage S]`: the operator's view of
// parked jobs (<stage>.parking) and the way back after a fix.
#include <iostream>
#include <nlohmann/json.hpp>

#include "photo/broker/amqp/config.h"
#include "photo/broker/amqp/dlq.h"
#include "photo/cli/commands.h"

namespace photo::cli {
namespace {

namespace amqp = broker::amqp;

struct DlqArgs {
  std::string action;
  std::vector<std::string> stages{"resize", "watermark", "detect"};
  std::size_t limit = 100;
  std::string message_id;  // replay only this parked job
};

int RunDlq(const CommonSettings& s, const DlqArgs& args) {
  auto config = amqp::AmqpConfig::FromEnv();
  if (!config) {
    PrintError(config.error().reason(), config.error().message());
    return 2;
  }
  config->url = s.amqp_url;
  nlohmann::json out = nlohmann::json::object();
  for (const auto& stage : args.stages) {
    if (args.action == "list") {
      auto msgs = amqp::ListParked(*config, stage, args.limit);
      if (!msgs) {
        PrintError(msgs.error().reason(), msgs.error().message());
        return 1;
      }
      nlohmann::json arr = nlohmann::json::array();
      for (const auto& m : *msgs) {
        nlohmann::json body = nlohmann::json::parse(m.body, nullptr, false);
        arr.push_back({{"message_id", m.message_id},
                       {"job", body.is_discarded() ? nlohmann::json(m.body) : body},
                       {"headers", m.headers}});
      }
      out[stage] = arr;
    } else {
      auto n = args.action == "replay" ? amqp::ReplayParked(*config, stage, args.message_id)
                                       : amqp::PurgeParked(*config, stage);
      if (!n) {
        PrintError(n.error().reason(), n.error().message());
        return 1;
      }
      out[stage] = {{args.action == "replay" ? "replayed" : "purged", *n}};
    }
  }
  std::cout << out.dump(2) << std::endl;
  return 0;
}

}  // namespace

void RegisterDlq(CLI::App& app, CommonSettings* s, int* exit_code) {
  auto args = std::make_shared<DlqArgs>();
  CLI::App* cmd = app.add_subcommand("dlq", "List, replay or purge parked jobs (<stage>.parking)");
  AddCommonOptions(cmd, s);
  cmd->add_option("action", args->action, "list | replay | purge")
      ->required()
      ->check(CLI::IsMember({"list", "replay", "purge"}));
  cmd->add_option("--stage", args->stages, "Stage(s); default all")
      ->check(CLI::IsMember({"resize", "watermark", "detect"}));
  cmd->add_option("--limit", args->limit, "Max messages listed per stage")->capture_default_str();
  cmd->add_option("--message-id", args->message_id,
                  "replay: only the parked job with this message_id (<image id>:<stage>)");
  cmd->callback([s, args, exit_code] { *exit_code = RunDlq(*s, *args); });
}

}  // namespace photo::cli
