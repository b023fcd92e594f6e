#include "photo/storage/storage_factory.h"

#include "photo/storage/local_blob_store.h"
#include "photo/storage/s3/s3_blob_store.h"

namespace photo::storage {

Result<std::unique_ptr<BlobStore>> OpenBlobStore(std::string_view url,
                                                 const std::filesystem::path& data_dir) {
  if (url.empty() || url == "local") return std::unique_ptr<BlobStore>(new LocalBlobStore(data_dir));
  if (url.starts_with("file://")) {
    std::string_view path = url.substr(7);
    if (path.empty() || path.front() != '/')
      return InvalidArgumentError("bad_setting",
                                  "PHOTO_PIPELINE_STORAGE=file:// needs an absolute path, got '" +
                                      std::string(url) + "'");
    return std::unique_ptr<BlobStore>(new LocalBlobStore(std::filesystem::path(path)));
  }
  if (url.starts_with("s3://")) {
    ASSIGN_OR_RETURN(S3Config config, S3Config::FromEnv(url));
    return std::unique_ptr<BlobStore>(new S3BlobStore(std::move(config)));
  }
  return InvalidArgumentError("bad_setting", "PHOTO_PIPELINE_STORAGE must be empty (local files "
                                             "under the data dir), file:///path or "
                                             "s3://bucket/prefix, got '" + std::string(url) + "'");
}

Result<std::unique_ptr<BlobStore>> OpenCheckedBlobStore(std::string_view url,
                                                        const std::filesystem::path& data_dir) {
  ASSIGN_OR_RETURN(std::unique_ptr<BlobStore> store, OpenBlobStore(url, data_dir));
  RETURN_IF_ERROR(store->Check());
  return store;
}

}  // namespace photo::storage
