#include "photo/worker/staging.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <random>

#include "photo/core/files.h"
#include "photo/image/probe.h"
#include "photo/pipeline/watermark_stage.h"

namespace photo::worker {
namespace fs = std::filesystem;

Result<std::unique_ptr<ScratchRoot>> ScratchRoot::Open(const fs::path& root) {
  RETURN_IF_ERROR(MakeDirs(root));
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root, ec)) {
    const fs::path lock = entry.path() / ".lock";
    const int fd = ::open(lock.c_str(), O_RDWR | O_CLOEXEC);
    if (fd >= 0 && ::flock(fd, LOCK_EX | LOCK_NB) != 0) {
      ::close(fd);  // a live worker's folder
      continue;
    }
    if (fd >= 0) ::close(fd);
    fs::remove_all(entry.path(), ec);
  }
  const fs::path dir = root / std::to_string(::getpid());
  fs::remove_all(dir, ec);
  RETURN_IF_ERROR(MakeDirs(dir));
  const fs::path lock = dir / ".lock";
  const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 || ::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    if (fd >= 0) ::close(fd);
    return UnavailableError("io_error", "cannot lock " + lock.string() + ": " + std::strerror(errno));
  }
  return std::unique_ptr<ScratchRoot>(new ScratchRoot(dir, fd));
}

ScratchRoot::~ScratchRoot() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
  ::close(lock_fd_);
}

Result<std::unique_ptr<StagedJob>> StagedJob::Fetch(storage::BlobStore& blobs,
                                                    const fs::path& scratch,
                                                    const std::string& stage,
                                                    const store::ImageRecord& rec,
                                                    const std::vector<image::RenditionSpec>& specs,
                                                    const pipeline::DetectConfig& detect) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char suffix[20];
  std::snprintf(suffix, sizeof suffix, "%016llx", static_cast<unsigned long long>(rng()));
  fs::path dir = scratch / (rec.id + "." + suffix);
  RETURN_IF_ERROR(MakeDirs(dir));
  std::unique_ptr<StagedJob> job(new StagedJob(blobs, std::move(dir)));

  // Every request costs the S3 server CPU (it shares the machine with the
  // workers in small deployments): inputs are fetched by key, not listed,
  // and nothing a stage does not read is fetched.
  const pipeline::Layout keys("");  // the same layout, relative: object keys
  const std::string original = rec.original_path.empty()
                                   ? keys.Original(rec.id).generic_string()
                                   : rec.original_path;
  if (stage == "resize") {
    RETURN_IF_ERROR(job->FetchKey(original));
  } else if (stage == "watermark") {
    for (const fs::path& p : pipeline::WatermarkInputs(keys, rec.id, specs, rec.renditions))
      RETURN_IF_ERROR(job->FetchKey(p.generic_string()));
  } else if (stage == "detect") {
    bool analysed = false;
    for (const pipeline::AnalysisCandidate& c :
         pipeline::AnalysisCandidates(detect, keys, rec.id, rec.renditions)) {
      const std::string key = fs::path(c.rendition.path).generic_string();
      // An absolute path (a record from local storage) is read in place.
      if (fs::path(key).is_absolute()) {
        analysed = true;
        break;
      }
      if (c.twin) {
        ASSIGN_OR_RETURN(const bool there, job->FetchKeyIfExists(key));
        if (!there) continue;
      } else {
        RETURN_IF_ERROR(job->FetchKey(key));
      }
      analysed = true;
      break;
    }
    // The original's pixels only when there is no rendition to analyse.
    RETURN_IF_ERROR(analysed ? job->FetchHeader(original) : job->FetchKey(original));
  }
  return job;
}

Status StagedJob::FetchKey(const std::string& key) {
  if (fetched_.contains(key)) return Status::Ok();
  RETURN_IF_ERROR(storage::ValidateKey(key));
  const fs::path file = dir_ / key;
  RETURN_IF_ERROR(MakeDirs(file.parent_path()));
  RETURN_IF_ERROR(storage::GetToFile(blobs_, key, file));
  fetched_.insert(key);
  return Status::Ok();
}

Result<bool> StagedJob::FetchKeyIfExists(const std::string& key) {
  Status s = FetchKey(key);
  if (s.code() == StatusCode::kNotFound) {
    std::error_code ec;
    fs::remove(dir_ / key, ec);
    return false;
  }
  if (!s.ok()) return s;
  return true;
}

Status StagedJob::FetchHeader(const std::string& key) {
  // EXIF sits in a JPEG's first segments (one APP1 of at most 64 KB, after
  // at most an APP0); ICC profiles can add a few more. Other formats may
  // keep it after the pixels (WebP, PNG), and a header longer than this is
  // fetched whole rather than cut.
  constexpr std::uint64_t kHeaderBytes = 256 * 1024;
  if (fetched_.contains(key)) return Status::Ok();
  RETURN_IF_ERROR(storage::ValidateKey(key));
  // Checked in memory: the scratch file is written once, with the prefix or
  // (FetchKey) the whole image.
  Result<std::string> head =
      storage::GetBytes(blobs_, key, storage::ByteRange{0, kHeaderBytes - 1});
  if (!head && head.error().reason() == "range_not_satisfiable")
    return FetchKey(key);  // an empty blob
  if (!head) return head.error();
  if (head->size() == kHeaderBytes && !image::JpegHeaderEnd(*head)) return FetchKey(key);
  RETURN_IF_ERROR(WriteFileAtomic(dir_ / key, *head, Durability::kScratch));
  // The prefix is a scratch copy only: never put back (PutOutputs skips
  // fetched keys).
  fetched_.insert(key);
  return Status::Ok();
}

Status StagedJob::PutOutputs() {
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir_, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const std::string key = it->path().lexically_relative(dir_).generic_string();
    // Temp files of an atomic write that did not complete are not outputs.
    if (fetched_.contains(key) || it->path().filename().string().starts_with(".")) continue;
    RETURN_IF_ERROR(blobs_.PutFile(key, it->path()));
  }
  if (ec) return UnavailableError("io_error", "walk " + dir_.string() + ": " + ec.message());
  return Status::Ok();
}

StagedJob::~StagedJob() {
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

}  // namespace photo::worker
