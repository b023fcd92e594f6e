// ApiConfig: every setting of the HTTP API, with defaults in code, an
// environment overlay (LoadFromEnv) and Validate(). The CLI maps its flags onto
// the same fields after LoadFromEnv, so flags win over the environment.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "photo/core/status.h"
#include "photo/http/listen_address.h"  // ParseListen, for PHOTO_PIPELINE_LISTEN
#include "photo/image/types.h"
#include "photo/signing/url_signer.h"

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

  // PHOTO_PIPELINE_HTTP_THREADS: the worker pool for blocking work (store,
  // broker, probe, fsync; every upload's body handling). Mostly waiting on
  // fsync and confirms, so far more threads than cores: 48 clients on 64
  // threads gave ~550 uploads/s here. Connections do not hold a thread.
  int threads = 64;

  // PHOTO_PIPELINE_HTTP_IO_THREADS: threads running the sockets (reads,
  // writes, timers, parsing). They never block; one per core is plenty.
  int io_threads = 2;

  // PHOTO_PIPELINE_HTTP_HEAD_TIMEOUT: seconds the whole request head may take
  // from its first byte (from the accept on a new connection); then 408.
  int head_timeout_s = 10;

  // PHOTO_PIPELINE_HTTP_READ_TIMEOUT / _WRITE_TIMEOUT, seconds: how long one
  // socket read of a body / one write may stall.
  int read_timeout_s = 30;
  int write_timeout_s = 30;

  // PHOTO_PIPELINE_HTTP_KEEP_ALIVE_TIMEOUT: seconds an idle keep-alive
  // connection is kept open (0: close after every answer).
  int keep_alive_timeout_s = 5;

  // PHOTO_PIPELINE_HTTP_MAX_HEADER_BYTES: the request line, and the header
  // fields, may each be at most this long; beyond it 431 and close.
  std::uint64_t max_header_bytes = 16 * 1024;

  // PHOTO_PIPELINE_HTTP_MIN_BODY_RATE (bytes/s, 0 = off) and
  // PHOTO_PIPELINE_HTTP_BODY_RATE_GRACE (s): once the grace has passed, a
  // body whose average rate is below the minimum is cut (408).
  std::uint64_t min_body_rate = 8 * 1024;
  int body_rate_grace_s = 10;

  // PHOTO_PIPELINE_HTTP_MAX_CONNECTIONS (all clients) and
  // PHOTO_PIPELINE_HTTP_MAX_CONNECTIONS_PER_CLIENT (one address, 0 = no
  // cap): beyond them new connections get 503 / 429 and are closed.
  int max_connections = 20000;
  int max_connections_per_client = 256;

  // PHOTO_PIPELINE_API_TOKEN (or PHOTO_PIPELINE_API_TOKEN_FILE, the secret
  // read from a file: Docker secrets): when non-empty, POST /upload requires
  // "Authorization: Bearer <token>" (401 otherwise). Reads stay open.
  std::string api_token;

  // PHOTO_PIPELINE_ADMIN_TOKEN (or _FILE): the bearer token of the admin
  // routes (originals, deletion, replay). Empty: those routes are closed.
  // It does not open uploads, nor the upload token admin routes.
  std::string admin_token;

  // PHOTO_PIPELINE_RATE_LIMIT / _RATE_BURST: requests per second (token
  // bucket) per client address; PHOTO_PIPELINE_TOKEN_RATE_LIMIT /
  // _TOKEN_RATE_BURST: the same per bearer token. 0 = off. Beyond: 429 +
  // Retry-After. Probes and /metrics are not counted.
  double rate_per_client = 1000;
  double burst_per_client = 2000;
  double rate_per_token = 1000;
  double burst_per_token = 2000;

  // PHOTO_PIPELINE_ORIGINALS_PUBLIC (default 0): `original` is served only
  // with the admin token or a signed URL; 1 serves it to anyone (the old
  // behaviour). PHOTO_PIPELINE_RENDITIONS_PUBLIC (default 1): 0 makes every
  // other rendition need a signed URL (or the admin token) too: 403 without.
  bool originals_public = false;
  bool renditions_public = true;

  // PHOTO_PIPELINE_SIGNING_KEY (or _FILE): HMAC-SHA256 key of signed
  // rendition URLs; records then carry signed URLs valid for
  // PHOTO_PIPELINE_SIGNED_URL_TTL seconds. PHOTO_PIPELINE_SIGNING_KEY_PREVIOUS
  // (or _FILE): the key before the last rotation, still accepted (never used
  // to sign), so links out there keep working until they expire. The same
  // settings as the workers' (signing::LoadSigningSettings).
  signing::SigningSettings signing;

  // PHOTO_PIPELINE_CORS_ORIGINS: comma-separated origins allowed to call the
  // API from a browser, or "*". Empty: no CORS headers.
  std::vector<std::string> cors_origins;

  // PHOTO_PIPELINE_RETRY_AFTER: seconds announced in Retry-After with 503.
  int retry_after_s = 5;
  // PHOTO_PIPELINE_S3_PRESIGN_TTL: with S3 storage, rendition downloads are
  // answered with a redirect (302) to a presigned URL valid this many
  // seconds instead of streaming the bytes; 0 = stream.
  int presign_ttl_s = 0;

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

}  // namespace photo::http
