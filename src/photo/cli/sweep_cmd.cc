// `photo-pipeline sweep [--min-age S] [--dry-run]`: deletes the blobs of
// images that have no status record (uploads refused after their original
// was stored, whose immediate delete failed too). Prints what it found as
// JSON on stdout.
#include <iostream>
#include <nlohmann/json.hpp>

#include "photo/cli/commands.h"
#include "photo/core/ids.h"
#include "photo/storage/storage_factory.h"
#include "photo/store/status_store.h"
#include "photo/worker/orphans.h"

namespace photo::cli {
namespace {

struct SweepArgs {
  int min_age_s = 3600;
  bool dry_run = false;
};

int RunSweep(const CommonSettings& s, const SweepArgs& args) {
  auto blobs = storage::OpenBlobStore(s.storage, s.data_dir);
  if (!blobs) {
    PrintError(blobs.error().reason(), blobs.error().message());
    return 2;
  }
  auto store = store::OpenStore(s.DbUrl());
  if (!store) {
    PrintError(store.error().reason(), store.error().message());
    return 2;
  }
  auto report = worker::SweepOrphans(**blobs, **store, NowUnixMillis(),
                                     static_cast<std::int64_t>(args.min_age_s) * 1000, args.dry_run);
  if (!report) {
    PrintError(report.error().reason(), report.error().message());
    return 1;
  }
  nlohmann::json out = {{"storage", (*blobs)->Describe()},
                        {"images_seen", report->images_seen},
                        {"orphans", report->orphan_ids},
                        {"blobs_deleted", report->blobs_deleted},
                        {"dry_run", args.dry_run}};
  std::cout << out.dump(2) << std::endl;
  return 0;
}

}  // namespace

void RegisterSweep(CLI::App& app, CommonSettings* s, int* exit_code) {
  auto args = std::make_shared<SweepArgs>();
  CLI::App* cmd = app.add_subcommand(
      "sweep", "Delete stored originals/renditions of images that have no status record");
  AddCommonOptions(cmd, s);
  cmd->add_option("--min-age", args->min_age_s,
                  "Only images whose newest blob is at least this many seconds old")
      ->check(CLI::Range(60, 365 * 86400))
      ->capture_default_str();
  cmd->add_flag("--dry-run", args->dry_run, "List the orphans, delete nothing");
  cmd->callback([s, args, exit_code] { *exit_code = RunSweep(*s, *args); });
}

}  // namespace photo::cli
