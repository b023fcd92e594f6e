// photo-pipeline: the composition root. The only place that names concrete
// adapters (AMQP, SQLite/PostgreSQL, local/S3 storage, the HTTP listeners).
#include <CLI/CLI.hpp>

#include <iostream>

#include "photo/cli/commands.h"
#include "photo/core/malloc_tuning.h"

int main(int argc, char** argv) {
  photo::TuneMallocForImages();
  CLI::App app{"photo-pipeline: resize, watermark and detect uploaded photos over RabbitMQ"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "photo-pipeline 0.1.0");
  int exit_code = 0;
  photo::cli::CommonSettings settings;
  photo::cli::RegisterProcess(app, &exit_code);
  photo::cli::RegisterApi(app, &settings, &exit_code);
  photo::cli::RegisterWorker(app, &settings, &exit_code);
  photo::cli::RegisterEvents(app, &settings, &exit_code);
  photo::cli::RegisterDlq(app, &settings, &exit_code);
  photo::cli::RegisterSweep(app, &settings, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}
