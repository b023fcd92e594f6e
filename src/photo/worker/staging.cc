#include "photo/worker/staging.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <random>

#include "photo/core/files.h"

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
                                                    const store::ImageRecord& rec) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  char suffix[20];
  std::snprintf(suffix, sizeof suffix, "%016llx", static_cast<unsigned long long>(rng()));
  fs::path dir = scratch / (rec.id + "." + suffix);
  RETURN_IF_ERROR(MakeDirs(dir));
  std::unique_ptr<StagedJob> job(new StagedJob(blobs, std::move(dir)));

  const pipeline::Layout keys("");  // the same layout, relative: object keys
  const std::string original = rec.original_path.empty()
                                   ? keys.Original(rec.id).generic_string()
                                   : rec.original_path;
  const std::string clean_prefix = (keys.ImageDir(rec.id) / "clean").generic_string() + "/";
  auto fetch_clean = [&]() -> Status {
    ASSIGN_OR_RETURN(std::vector<storage::ListEntry> clean, blobs.List(clean_prefix));
    for (const auto& e : clean) RETURN_IF_ERROR(job->FetchKey(e.key));
    return Status::Ok();
  };
  if (stage == "resize") {
    RETURN_IF_ERROR(job->FetchKey(original));
  } else if (stage == "watermark") {
    RETURN_IF_ERROR(fetch_clean());
  } else if (stage == "detect") {
    RETURN_IF_ERROR(job->FetchKey(original));
    RETURN_IF_ERROR(fetch_clean());
    for (const image::Rendition& r : rec.renditions)
      if (!r.watermarked && !fs::path(r.path).is_absolute()) RETURN_IF_ERROR(job->FetchKey(r.path));
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
