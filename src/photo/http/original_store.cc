#include "photo/http/original_store.h"

#include <spdlog/spdlog.h>

#include "photo/core/files.h"
#include "photo/pipeline/layout.h"

namespace photo::http {
namespace fs = std::filesystem;

// Moves the temp file to its final place and makes the new directory entries
// durable too (rename alone syncs only the last one): images/ab (the new <id>
// entry) every time, and images/ (the ab entry) the first time this process
// uses that prefix. A prefix directory is never removed, so once an fsync of
// images/ has succeeded after it existed, its entry is durable for good (one
// fsync less per upload, which matters on a no-journal ext4 where each
// directory fsync is a synchronous write of its own).
Result<std::string> PersistOriginal(ApiContext& ctx, const fs::path& tmp, const std::string& id) {
  if (ctx.remote_blobs != nullptr) {
    // The object's PUT is acknowledged (with its Content-MD5 checked) before
    // this returns: the same "durable" the fsync gives for local files.
    const std::string key = pipeline::Layout("").Original(id).generic_string();
    Status s = ctx.remote_blobs->PutFile(key, tmp);
    if (!s.ok()) {
      return s.IsTransient() ? UnavailableError("storage_unavailable", s.ToString())
                             : InternalError("io_error", s.ToString());
    }
    std::error_code ec;
    fs::remove(tmp, ec);  // the stored object is the original now
    return key;
  }
  const fs::path original = ctx.layout.Original(id);
  const fs::path dir = original.parent_path();
  auto io = [](const Status& s) {
    return s.reason() == "disk_full" ? s : InternalError("io_error", s.message());
  };
  if (Status s = MakeDirs(dir); !s.ok()) return io(s);
  if (Status s = SyncPath(dir.parent_path()); !s.ok()) return io(s);
  const std::string prefix = dir.parent_path().filename().string();
  bool prefix_synced = false;
  {
    std::lock_guard<std::mutex> lock(ctx.synced_prefixes_mu);
    prefix_synced = ctx.synced_prefixes.count(prefix) != 0;
  }
  if (!prefix_synced) {
    if (Status s = SyncPath(dir.parent_path().parent_path()); !s.ok()) return io(s);
    std::lock_guard<std::mutex> lock(ctx.synced_prefixes_mu);
    ctx.synced_prefixes.insert(prefix);
  }
  if (Status s = CommitFile(tmp, original); !s.ok()) return io(s);
  return original.lexically_relative(ctx.config.data_dir).generic_string();
}

Status EraseImageBlobs(ApiContext& ctx, const std::string& id) {
  const std::string folder = pipeline::ImageFolderKey(id);
  if (Status s = storage::DeletePrefix(*ctx.blobs, folder); !s.ok()) {
    return UnavailableError("storage_unavailable", "erasing " + folder + ": " + s.ToString());
  }
  return Status::Ok();
}

void RemoveOriginal(ApiContext& ctx, const std::string& id) {
  // If the store is unreachable right now, what is left stays without a
  // record: `photo-pipeline sweep` removes it later.
  if (Status s = EraseImageBlobs(ctx, id); !s.ok())
    spdlog::error("upload {}: {}; left for `photo-pipeline sweep`", id, s.ToString());
}

}  // namespace photo::http
