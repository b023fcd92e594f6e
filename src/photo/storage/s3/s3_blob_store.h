// Blobs in an S3-compatible object store, over libcurl (path-style URLs,
// requests signed by libcurl's CURLOPT_AWS_SIGV4).
//
// Every PUT carries a Content-MD5, so the server refuses a body damaged in
// transit; bodies from multipart_threshold up go as a multipart upload (each
// part with its own Content-MD5, aborted on failure). Connection errors,
// timeouts, 5xx, 429 and 503 SlowDown are retried with exponential back-off
// and jitter; a GET that breaks mid-body resumes where it stopped, guarded
// by If-Match on the first answer's ETag. Thread-safe: curl handles (and
// their kept-alive connections) are pooled.
#pragma once

#include <memory>
#include <mutex>
#include <vector>

#include "photo/storage/blob_store.h"
#include "photo/storage/s3/s3_config.h"

namespace photo::storage {

class S3BlobStore final : public BlobStore {
 public:
  explicit S3BlobStore(S3Config config);
  ~S3BlobStore() override;
  S3BlobStore(const S3BlobStore&) = delete;
  S3BlobStore& operator=(const S3BlobStore&) = delete;

  Status Put(const std::string& key, std::string_view bytes) override;
  Status PutFile(const std::string& key, const std::filesystem::path& file) override;
  Status Get(const std::string& key, const Sink& sink,
             std::optional<ByteRange> range = std::nullopt) override;
  Result<BlobInfo> Head(const std::string& key) override;
  Status Delete(const std::string& key) override;
  Result<std::vector<ListEntry>> List(const std::string& prefix) override;
  // HEAD of the bucket, then a small PUT and DELETE under the prefix: the
  // endpoint answers, the bucket exists, the credentials may write. The
  // error names the setting to fix.
  Status Check() override;
  std::optional<std::filesystem::path> LocalPath(const std::string&) const override {
    return std::nullopt;
  }
  Result<std::string> PresignGet(const std::string& key, int ttl_seconds) override;
  std::string Describe() const override;

  // A single PUT with the given Content-MD5 instead of the body's: for tests
  // that the server's integrity check refuses a body that does not match.
  Status PutWithContentMd5ForTest(const std::string& key, std::string_view bytes,
                                  const std::string& content_md5);

  const S3Config& config() const { return config_; }

  struct Request;
  struct Response;

 private:
  class Curl;
  std::unique_ptr<Curl> Acquire();
  void Release(std::unique_ptr<Curl> c);
  // One request with retries; `what` names it in errors.
  Result<Response> Send(Request& req, std::string_view what);
  Response Attempt(Curl& curl, Request& req);
  Status PutBody(const std::string& key, Request& body, std::string_view what);
  Status PutMultipart(const std::string& key, std::uint64_t size,
                      const std::function<Status(std::uint64_t, std::uint64_t, std::string*)>& read);
  std::string ObjectPath(const std::string& key) const;  // URI-encoded /bucket/prefix+key

  S3Config config_;
  std::mutex pool_mu_;
  std::vector<std::unique_ptr<Curl>> pool_;
};

}  // namespace photo::storage
