// Blobs as files under one directory (the data dir): key "a/b" is the file
// <root>/a/b. The default store, and exactly the layout the pipeline used
// before blob storage existed, so existing data dirs keep working.
#pragma once

#include <filesystem>

#include "photo/storage/blob_store.h"

namespace photo::storage {

class LocalBlobStore final : public BlobStore {
 public:
  explicit LocalBlobStore(std::filesystem::path root) : root_(std::move(root)) {}

  // Files are written to a temp file beside the target, fsync'ed, renamed,
  // and the directory fsync'ed (photo/core/files.h).
  Status Put(const std::string& key, std::string_view bytes) override;
  Status PutFile(const std::string& key, const std::filesystem::path& file) override;
  Status Get(const std::string& key, const Sink& sink,
             std::optional<ByteRange> range = std::nullopt) override;
  Result<BlobInfo> Head(const std::string& key) override;
  Status Delete(const std::string& key) override;
  // Skips dot files (temp files of writes in progress).
  Result<std::vector<ListEntry>> List(const std::string& prefix) override;
  Status Check() override;
  std::optional<std::filesystem::path> LocalPath(const std::string& key) const override;
  Result<std::string> PresignGet(const std::string& key, int ttl_seconds) override;
  std::string Describe() const override;

 private:
  std::filesystem::path root_;
};

}  // namespace photo::storage
