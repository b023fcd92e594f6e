// photo-pipeline: the composition root. The only place that names concrete
// adapters (AMQP, SQLite/PostgreSQL, cpp-httplib).
#include <CLI/CLI.hpp>
#include <malloc.h>

#include <cstdlib>
#include <cstring>
#include <iostream>

#include "photo/cli/commands.h"

namespace {

// Image buffers are tens of MB. glibc serves those with fresh mmaps and
// returns them at free, so every image pays first-touch page faults again
// (measured here: ~13 us per 4 KiB page; libvips' 12 MP decode went from 253
// to 85 ms CPU with the thresholds below, docs/stages/resize.md). Keep such
// buffers in the heap and keep up to 256 MiB of freed memory for the next
// image: RSS stays flat at the working set instead of churning.
// PHOTO_PIPELINE_MALLOC_TUNING=0 keeps glibc's defaults.
void TuneMalloc() {
  const char* v = std::getenv("PHOTO_PIPELINE_MALLOC_TUNING");
  if (v != nullptr && std::strcmp(v, "0") == 0) return;
  mallopt(M_MMAP_THRESHOLD, 128 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  // Each arena keeps its own freed memory; libvips' worker threads would
  // otherwise each hold a copy of the working set.
  mallopt(M_ARENA_MAX, 4);
}

}  // namespace

int main(int argc, char** argv) {
  TuneMalloc();
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
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  return exit_code;
}
