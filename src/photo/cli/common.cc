#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <signal.h>

#include <ctime>
#include <iostream>
#include <nlohmann/json.hpp>

#include "photo/cli/commands.h"

namespace photo::cli {

void AddCommonOptions(CLI::App* cmd, CommonSettings* s) {
  cmd->add_option("--amqp-url", s->amqp_url,
                  "RabbitMQ URL (amqp:// or amqps://), or a comma list of one per cluster node")
      ->envname("PHOTO_PIPELINE_AMQP_URL")
      ->capture_default_str();
  cmd->add_option("--data-dir", s->data_dir, "Originals, renditions and the embedded database")
      ->envname("PHOTO_PIPELINE_DATA_DIR")
      ->capture_default_str();
  cmd->add_option("--db", s->db,
                  "Status store URL: sqlite://<path> (default sqlite://<data dir>/photo-pipeline.db) "
                  "or postgres://...")
      ->envname("PHOTO_PIPELINE_DB");
  cmd->add_option("--storage", s->storage,
                  "Blob storage for originals and renditions: empty = files under the data dir; "
                  "s3://bucket/prefix = S3 (PHOTO_PIPELINE_S3_ENDPOINT, PHOTO_PIPELINE_S3_REGION, "
                  "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN)")
      ->envname("PHOTO_PIPELINE_STORAGE");
  cmd->add_option("--log-format", s->log_format, "text or json")
      ->envname("PHOTO_PIPELINE_LOG_FORMAT")
      ->check(CLI::IsMember({"text", "json"}))
      ->capture_default_str();
  cmd->add_option("--log-level", s->log_level, "trace, debug, info, warn, error")
      ->envname("PHOTO_PIPELINE_LOG_LEVEL")
      ->capture_default_str();
}

void SetupLogging(const CommonSettings& s) {
  auto logger = spdlog::stderr_color_mt("photo");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(s.log_level));
  if (s.log_format == "json") {
    // One JSON object per line; messages that concern an image carry
    // "image_id=<id>" which log shippers can extract.
    spdlog::set_pattern(
        R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l","pid":%P,"thread":%t,"msg":"%v"})",
        spdlog::pattern_time_type::utc);
  } else {
    spdlog::set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%l%$ [%P] %v");
  }
}

void BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A listener that went away must not kill us on write.
  signal(SIGPIPE, SIG_IGN);
}

int WaitForStopSignal(const std::function<bool()>& keep_waiting) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  const timespec tick{0, 200'000'000};
  while (keep_waiting()) {
    int sig = sigtimedwait(&set, nullptr, &tick);
    if (sig > 0) return sig;
  }
  return 0;
}

void PrintError(const std::string& code, const std::string& message) {
  nlohmann::json j = {{"error", {{"code", code}, {"message", message}}}};
  std::cerr << j.dump() << std::endl;
}

}  // namespace photo::cli
