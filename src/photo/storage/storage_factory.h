// Opens the blob store PHOTO_PIPELINE_STORAGE names. The only place that
// sees every implementation.
#pragma once

#include <filesystem>
#include <memory>
#include <string_view>

#include "photo/storage/blob_store.h"

namespace photo::storage {

// "" or "local": files under `data_dir` (the default); "file:///path": files
// under /path; "s3://bucket[/prefix]": S3, configured by the
// PHOTO_PIPELINE_S3_* and AWS_* variables (S3Config::FromEnv). Does not
// contact the store: call Check() for that. Errors: bad_setting naming the
// variable.
Result<std::unique_ptr<BlobStore>> OpenBlobStore(std::string_view storage_url,
                                                 const std::filesystem::path& data_dir);

// OpenBlobStore, then Check(): what a service does at start, so that a wrong
// endpoint, bucket or key stops it there, naming the setting, rather than
// failing every upload or job.
Result<std::unique_ptr<BlobStore>> OpenCheckedBlobStore(std::string_view storage_url,
                                                        const std::filesystem::path& data_dir);

}  // namespace photo::storage
