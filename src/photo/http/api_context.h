// What the API's route files share: settings, the store and broker
// interfaces, metrics, the storage layout and the probe. Built once by
// ApiServer; route handlers get it by reference and may use it from any
// worker thread (the store and publisher promise thread safety).
#pragma once

#include <filesystem>
#include <functional>
#include <mutex>
#include <set>
#include <string>

#include "photo/broker/operations.h"
#include "photo/broker/publisher.h"
#include "photo/core/status.h"
#include "photo/http/api_config.h"
#include "photo/http/metrics.h"
#include "photo/image/types.h"
#include "photo/pipeline/layout.h"
#include "photo/signing/url_signer.h"
#include "photo/storage/blob_store.h"
#include "photo/store/status_store.h"

namespace photo::http {

using signing::UrlSigner;

// Decides what an uploaded file is. The default runs image::ProbeBuffer over
// the file (read up to 1 MiB, mapped above). A seam for tests.
using ProbeFn = std::function<Result<image::ProbeInfo>(const std::filesystem::path&, const image::Limits&)>;

struct ApiContext {
  ApiConfig config;
  store::StatusStore* store = nullptr;
  broker::Publisher* publisher = nullptr;
  broker::Operations* operations = nullptr;  // operator routes; null: they answer 501
  metrics::MetricsRegistry* metrics = nullptr;
  pipeline::Layout layout{""};
  ProbeFn probe;
  // Remote blob storage (S3) for originals and renditions; null = files under
  // the data dir (layout), read and written in place. Not owned.
  storage::BlobStore* remote_blobs = nullptr;
  // Where everything of an image is erased (DELETE, refused uploads):
  // remote_blobs, or a local store over the data dir. Never null once
  // ApiServer is built. Not owned.
  storage::BlobStore* blobs = nullptr;
  UrlSigner signer{"", "", 0};

  // Prefix directories (images/ab) whose entry in images/ this process has
  // fsynced (PersistOriginal).
  std::mutex synced_prefixes_mu;
  std::set<std::string> synced_prefixes;
};

}  // namespace photo::http
