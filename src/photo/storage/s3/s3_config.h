// Settings of the S3 adapter, from PHOTO_PIPELINE_STORAGE=s3://bucket/prefix
// and the PHOTO_PIPELINE_S3_* / AWS_* environment variables.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "photo/core/status.h"

namespace photo::storage {

struct S3Config {
  std::string bucket;  // s3://<bucket>/...: 3-63 of [a-z0-9.-] (S3's rules)
  std::string prefix;  // s3://bucket/<prefix>: "" or "a/b/" (a '/' is appended)
  // PHOTO_PIPELINE_S3_ENDPOINT: http(s)://host[:port], path-style addressing
  // (http://host/bucket/key). Required: no default that could be a real
  // provider by surprise.
  std::string endpoint;
  std::string region = "us-east-1";  // PHOTO_PIPELINE_S3_REGION
  std::string access_key;            // AWS_ACCESS_KEY_ID (required)
  std::string secret_key;            // AWS_SECRET_ACCESS_KEY (required)
  std::string session_token;         // AWS_SESSION_TOKEN (temporary credentials)
  // PHOTO_PIPELINE_S3_MULTIPART_THRESHOLD: bodies of at least this many bytes
  // go up as a multipart upload of PHOTO_PIPELINE_S3_PART_SIZE parts.
  std::uint64_t multipart_threshold = 64ull << 20;
  std::uint64_t part_size = 16ull << 20;
  // PHOTO_PIPELINE_S3_ATTEMPTS: tries per request (connection errors,
  // timeouts, 5xx, 429 and 503 SlowDown are retried), with back-off from
  // PHOTO_PIPELINE_S3_BACKOFF_MS doubling up to 5 s, with jitter.
  int attempts = 6;
  int backoff_ms = 100;
  int timeout_ms = 60'000;         // PHOTO_PIPELINE_S3_TIMEOUT_MS: one request, whole
  int connect_timeout_ms = 3'000;  // connecting only

  // Reads the environment for `storage_url` (s3://...). Errors:
  // kInvalidArgument ("bad_setting") naming the variable at fault.
  static Result<S3Config> FromEnv(std::string_view storage_url);
  // The same checks on an already filled config.
  Status Validate() const;
};

}  // namespace photo::storage
