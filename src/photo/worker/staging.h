// Runs a stage against remote blob storage without touching stage code: the
// job's inputs are fetched into a private scratch folder laid out like a data
// dir (pipeline::Layout), the unchanged stage reads and writes there, and
// every file it wrote is put back under the same relative key before the
// record is updated and the job acknowledged. The folder is removed when the
// job ends, so a worker's disk holds temporary files only.
//
// Idempotent on redelivery: inputs are never modified, and each output is
// replaced as a whole object under a key built from the id, so a rerun
// writes the same objects again.
#pragma once

#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "photo/core/status.h"
#include "photo/pipeline/detect_stage.h"
#include "photo/pipeline/layout.h"
#include "photo/storage/blob_store.h"
#include "photo/store/image_record.h"

namespace photo::worker {

// The worker process's scratch root (<data dir>/work by default), held for
// the process's lifetime: <root>/<pid>/ with an flock on its ".lock". Open()
// removes the folders of processes that no longer hold their lock (a worker
// that died mid-job), so scratch space never accumulates, while workers
// sharing the root keep theirs.
class ScratchRoot {
 public:
  static Result<std::unique_ptr<ScratchRoot>> Open(const std::filesystem::path& root);
  ~ScratchRoot();
  const std::filesystem::path& dir() const { return dir_; }

 private:
  ScratchRoot(std::filesystem::path dir, int lock_fd) : dir_(std::move(dir)), lock_fd_(lock_fd) {}
  std::filesystem::path dir_;
  int lock_fd_;
};

class StagedJob {
 public:
  // Fetches what `stage` reads for `rec` into a fresh folder under
  // `scratch`, and only that: resize the original; watermark the clean twins
  // of the watermarked renditions (pipeline::WatermarkInputs); detect the
  // rendition it will analyse (pipeline::AnalysisCandidates) and the
  // original's header for EXIF (the whole original when there is nothing
  // else to analyse). Errors: those of BlobStore::Get (not_found for a
  // missing input is permanent, like the local stage's own), io_error for
  // the scratch disk.
  static Result<std::unique_ptr<StagedJob>> Fetch(storage::BlobStore& blobs,
                                                  const std::filesystem::path& scratch,
                                                  const std::string& stage,
                                                  const store::ImageRecord& rec,
                                                  const std::vector<image::RenditionSpec>& specs,
                                                  const pipeline::DetectConfig& detect);
  ~StagedJob();
  StagedJob(const StagedJob&) = delete;
  StagedJob& operator=(const StagedJob&) = delete;

  // Where the stage runs: paths relative to layout().data_dir() are keys.
  const pipeline::Layout& layout() const { return layout_; }

  // Puts every file the stage wrote (anything not fetched) under its key.
  // Durable when it returns OK (BlobStore::PutFile).
  Status PutOutputs();

 private:
  StagedJob(storage::BlobStore& blobs, std::filesystem::path dir)
      : blobs_(blobs), dir_(std::move(dir)), layout_(pipeline::Layout::Scratch(dir_)) {}
  Status FetchKey(const std::string& key);
  // FetchKey; false when there is no such blob.
  Result<bool> FetchKeyIfExists(const std::string& key);
  // Enough of the image at `key` for a header read: a JPEG's first
  // kHeaderBytes when its header ends within them, else all of it.
  Status FetchHeader(const std::string& key);

  storage::BlobStore& blobs_;
  std::filesystem::path dir_;
  pipeline::Layout layout_;
  std::set<std::string> fetched_;
};

}  // namespace photo::worker
