// Subcommands of the photo-pipeline binary. Each Register* adds its CLI11
// subcommand and its callback; the callback returns the process exit code via
// the shared `exit_code`.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace photo::cli {

// Settings shared by the service subcommands (flags override environment).
struct CommonSettings {
  std::string amqp_url = "amqp://guest:guest@127.0.0.1:5672/";  // PHOTO_PIPELINE_AMQP_URL
  std::string data_dir = "./var/data";                           // PHOTO_PIPELINE_DATA_DIR
  std::string db;                // PHOTO_PIPELINE_DB; default sqlite://<data dir>/photo-pipeline.db
  std::string storage;           // PHOTO_PIPELINE_STORAGE; "" = files under the data dir
  std::string log_format = "text";  // PHOTO_PIPELINE_LOG_FORMAT: text | json
  std::string log_level = "info";   // PHOTO_PIPELINE_LOG_LEVEL

  std::string DbUrl() const { return db.empty() ? "sqlite://" + data_dir + "/photo-pipeline.db" : db; }
};

void AddCommonOptions(CLI::App* cmd, CommonSettings* s);
void SetupLogging(const CommonSettings& s);

void RegisterProcess(CLI::App& app, int* exit_code);
void RegisterApi(CLI::App& app, CommonSettings* s, int* exit_code);
void RegisterWorker(CLI::App& app, CommonSettings* s, int* exit_code);
void RegisterEvents(CLI::App& app, CommonSettings* s, int* exit_code);
void RegisterDlq(CLI::App& app, CommonSettings* s, int* exit_code);
void RegisterSweep(CLI::App& app, CommonSettings* s, int* exit_code);

// SIGINT/SIGTERM handling for the services: BlockStopSignals() before any
// thread starts (threads inherit the mask), then WaitForStopSignal() returns
// the signal number once one arrives, or 0 when `keep_waiting` turns false.
void BlockStopSignals();
int WaitForStopSignal(const std::function<bool()>& keep_waiting);

// Prints {"error":{"code","message"}} on stderr.
void PrintError(const std::string& code, const std::string& message);

}  // namespace photo::cli
