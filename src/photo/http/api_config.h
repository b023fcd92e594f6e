// ApiConfig: every setting of the HTTP API, with defaults in code, an
// environment overlay (LoadFromEnv) and Validate(). The CLI maps its flags onto
// the same fields after LoadFromEnv, so flags win over the environment.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "photo/core/status.h"
#include "photo/image/types.h"

namespace photo::http {

// Looks an environment variable up; nullptr when unset. The default reads the
// process environment; tests pass a map.
using EnvLookup = std::function<const char*(const char*)>;
EnvLookup ProcessEnv();

struct ApiConfig {
  // PHOTO_PIPELINE_LISTEN "host:port" ("[::1]:8000" for IPv6, ":8000" = all
  // interfaces). Port 0 binds any free port (see ApiServer::port()).
  std::string host = "0.0.0.0";
  int port = 8000;

  // PHOTO_PIPELINE_DATA_DIR. Originals go to <data>/images/..., uploads are
  // streamed to <data>/tmp first (same filesystem, so the final move is an
  // atomic rename).
  std::filesystem::path data_dir = "./var/data";

  // PHOTO_PIPELINE_MAX_BYTES / _MAX_PIXELS / _MAX_FRAMES: the same limits the
  // resize stage enforces, so nothing the API accepts is refused later for
  // size.
  image::Limits limits;

  // Room for the multipart framing and small form fields on top of
  // limits.max_bytes (PHOTO_PIPELINE_HTTP_MULTIPART_OVERHEAD).
  std::uint64_t multipart_overhead = 1024 * 1024;

  // PHOTO_PIPELINE_HTTP_THREADS: requests served at once (each upload holds a
  // thread while it streams, probes and waits for the broker's confirm, and
  // a keep-alive connection holds one between requests). Mostly waiting on
  // fsync and confirms, so far more threads than cores: 48 clients on 64
  // threads gave 559 uploads/s here, 32 on 16 threads queued (p99 > 1 s).
  int threads = 64;

  // PHOTO_PIPELINE_HTTP_READ_TIMEOUT / _WRITE_TIMEOUT, seconds: how long one
  // socket read/write may stall (a slow client, not a slow upload: the
  // timer restarts with every chunk).
  int read_timeout_s = 30;
  int write_timeout_s = 30;

  // Seconds an idle keep-alive connection is kept open; also the longest a
  // Stop() waits for idle connections to notice.
  int keep_alive_timeout_s = 5;

  // PHOTO_PIPELINE_API_TOKEN: when non-empty, POST /upload requires
  // "Authorization: Bearer <token>" (401 otherwise). Reads stay open.
  std::string api_token;

  // PHOTO_PIPELINE_RETRY_AFTER: seconds announced in Retry-After with 503.
  int retry_after_s = 5;

  // PHOTO_PIPELINE_ACCESS_LOG (1/0, true/false): one spdlog line per request.
  bool access_log = true;

  // The largest request body accepted on POST /upload.
  std::uint64_t max_body_bytes() const { return limits.max_bytes + multipart_overhead; }

  // Overlays the PHOTO_PIPELINE_* variables above onto the current values.
  // kInvalidArgument("bad_config") naming the variable when one is malformed;
  // nothing is changed then.
  Status LoadFromEnv(const EnvLookup& env = ProcessEnv());

  // kInvalidArgument("bad_config") for out-of-range values.
  Status Validate() const;
};

// Parses "host:port", "[v6]:port" or ":port". kInvalidArgument on anything else.
Status ParseListen(std::string_view text, std::string* host, int* port);

}  // namespace photo::http
