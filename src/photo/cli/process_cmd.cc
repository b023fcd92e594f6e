// `photo-pipeline process FILE --out DIR`: the three stages in-process, with
// a memory store and no broker — the same HandleJob the workers run.
#include <filesystem>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "photo/cli/commands.h"
#include "photo/core/files.h"
#include "photo/core/ids.h"
#include "photo/core/text.h"
#include "photo/image/probe.h"
#include "photo/image/vips.h"
#include "photo/storage/local_blob_store.h"
#include "photo/store/memory_store.h"
#include "photo/store/record_json.h"
#include "photo/worker/job_handler.h"

namespace photo::cli {
namespace fs = std::filesystem;

namespace {

struct ProcessArgs {
  std::string file;
  std::string out;
};

int RunProcess(const ProcessArgs& args) {
  image::InitVips();
  worker::PipelineConfig config;
  if (Status s = config.LoadFromEnv(); !s.ok()) {
    PrintError(s.reason().empty() ? "bad_config" : s.reason(), s.message());
    return 2;
  }
  fs::path input = fs::absolute(args.file);
  auto probe = image::ProbeFile(input.string(), config.resize.limits);
  if (!probe) {
    PrintError(probe.error().reason(), BoundedErrorText(probe.error().message()));
    return 2;
  }
  if (Status s = MakeDirs(args.out); !s.ok()) {
    PrintError(s.reason(), s.message());
    return 2;
  }

  store::MemoryStatusStore store;
  std::string id = NewImageId();
  store::ImageRecord rec = store::NewRecord(id, SanitizeFilename(input.filename().string()),
                                            NowUnixMillis());
  rec.original_path = input.string();
  rec.source_format = image::FormatName(probe->format);
  rec.width = probe->width;
  rec.height = probe->height;
  rec.bytes = probe->bytes;
  if (Status s = store.Create(rec); !s.ok()) {
    PrintError(s.reason(), s.message());
    return 2;
  }

  pipeline::Layout layout = pipeline::Layout::SingleImage(fs::absolute(args.out), input);
  // The record lives in this process only and is never deleted, so nothing
  // is erased through it; JobContext wants its store all the same.
  storage::LocalBlobStore blobs(layout.data_dir());
  worker::JobContext ctx{&store, &layout, &config, {}};
  ctx.blobs = &blobs;
  worker::Delivery d;
  d.stage = broker::kResizeQueue;
  d.body = broker::MakeJobMessage({id, rec.filename, rec.original_path, d.stage}).body;
  d.last_attempt = true;
  int exit_code = 0;
  while (true) {
    worker::Outcome o = worker::HandleJob(ctx, d);
    if (o.kind != worker::Outcome::Kind::kAck) {
      PrintError(o.error.reason(), BoundedErrorText(o.error.message()));
      exit_code = 1;
      break;
    }
    if (o.publish.empty() || o.publish.front().exchange == broker::kEventsExchange) break;
    d.stage = o.publish.front().routing_key;
    d.body = o.publish.front().body;
  }
  auto final_rec = store.Get(id);
  if (final_rec) std::cout << store::RecordToApiJson(*final_rec).dump(2) << std::endl;
  return exit_code;
}

}  // namespace

void RegisterProcess(CLI::App& app, int* exit_code) {
  auto args = std::make_shared<ProcessArgs>();
  CLI::App* cmd = app.add_subcommand(
      "process", "Run resize, watermark and detect on one file in-process (no broker) and print "
                 "the image record");
  cmd->add_option("file", args->file, "Input image")->required();
  cmd->add_option("--out,-o", args->out, "Directory for the renditions")->required();
  cmd->callback([args, exit_code] { *exit_code = RunProcess(*args); });
}

}  // namespace photo::cli
