// GET /status/{id} (the image record) and GET /images/{id}/{rendition} (the
// rendition's bytes, "original" included).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <optional>

#include "photo/core/files.h"
#include "photo/storage/blob_store.h"
#include "photo/http/auth.h"
#include "photo/core/ids.h"
#include "photo/http/file_response.h"
#include "photo/http/original_store.h"
#include "photo/http/responses.h"
#include "photo/http/routes.h"
#include "photo/store/record_json.h"

namespace photo::http {
namespace {

namespace fs = std::filesystem;

Response NotFound(std::string_view message) { return ErrorResponse(404, "not_found", message); }

Response StoreError(const ApiContext& ctx, const Status& s) {
  if (s.code() == StatusCode::kNotFound) return NotFound("no image with this id");
  const bool unavailable = IsUnavailable(s);
  return StatusResponse(unavailable ? UnavailableError("store_unavailable", s.ToString())
                                    : InternalError("internal", s.ToString()),
                        unavailable ? 503 : 500, ctx.config.retry_after_s);
}

const char* MimeForSourceFormat(const std::string& name) {
  for (image::Format f : {image::Format::kJpeg, image::Format::kPng, image::Format::kWebp, image::Format::kGif,
                          image::Format::kTiff, image::Format::kHeif, image::Format::kAvif}) {
    if (name == image::FormatName(f)) return image::MimeType(f);
  }
  return "application/octet-stream";
}

bool IsValidRenditionName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::int64_t NowSeconds() { return NowUnixMillis() / 1000; }

// Who may read this rendition: nullopt when allowed, else the refusal.
// Private (the original unless ORIGINALS_PUBLIC, every rendition when
// RENDITIONS_PUBLIC=0): the admin token or a valid signed URL. No
// credentials at all: 401; wrong token, bad or expired signature: 403.
std::optional<Response> CheckAccess(const ApiContext& ctx, const Request& req, const std::string& canonical,
                                    bool is_original, bool* needed_credentials) {
  const bool is_public = is_original ? ctx.config.originals_public : ctx.config.renditions_public;
  *needed_credentials = !is_public;
  if (is_public) return std::nullopt;
  if (HasToken(req, ctx.config.admin_token)) return std::nullopt;
  const UrlSigner::Check sig = ctx.signer.Verify(canonical, req.query, NowSeconds());
  if (sig == UrlSigner::Check::kValid) return std::nullopt;
  if (sig == UrlSigner::Check::kExpired) return ErrorResponse(403, "link_expired", "this signed link has expired");
  if (sig == UrlSigner::Check::kInvalid) return ErrorResponse(403, "forbidden", "the link's signature is not valid");
  if (BearerToken(req)) return ErrorResponse(403, "forbidden", "this token may not read this rendition");
  Response r = UnauthorizedResponse(is_original ? "the original needs the admin token or a signed link"
                                                : "this rendition needs a signed link");
  return r;
}

Response GetStatus(ApiContext& ctx, const Request& req) {
  const std::string id(req.Param("id"));
  if (!IsValidImageId(id)) return NotFound("no image with this id");
  Result<store::ImageRecord> rec = ctx.store->Get(id);
  if (!rec) return StoreError(ctx, rec.error());
  nlohmann::json body = store::RecordToApiJson(*rec);
  SignUrls(ctx, body);
  Response res = JsonResponse(200, body);
  res.headers.Set("Cache-Control", "no-store");
  return res;
}

// A blob of remote storage: HEAD for the ETag (304 without fetching), then a
// redirect to a presigned URL (PHOTO_PIPELINE_S3_PRESIGN_TTL) or the bytes,
// fetched into an anonymous memory file and served like a local one (ranges
// included).
Response RemoteBlobResponse(ApiContext& ctx, const Request& req, const std::string& key,
                            const std::string& what, const std::string& content_type,
                            bool needed_credentials) {
  auto unavailable = [&](const Status& s) {
    return StatusResponse(UnavailableError("storage_unavailable", s.ToString()), 503, ctx.config.retry_after_s);
  };
  Result<storage::BlobInfo> head = ctx.remote_blobs->Head(key);
  if (!head) {
    if (head.error().code() == StatusCode::kNotFound) return NotFound("the file of " + what + " is not there");
    return unavailable(head.error());
  }
  Response res;
  if (IfNoneMatchHits(req.headers.Get("If-None-Match"), head->etag)) {
    res.status = 304;
  } else if (ctx.config.presign_ttl_s > 0) {
    Result<std::string> url = ctx.remote_blobs->PresignGet(key, ctx.config.presign_ttl_s);
    if (!url) return unavailable(url.error());
    res.status = 302;
    res.headers.Set("Location", *url);
    // The URL expires: a cache may keep the redirect for half its life.
    res.headers.Set("Cache-Control", "private, max-age=" + std::to_string(ctx.config.presign_ttl_s / 2));
    res.headers.Set("ETag", head->etag);
    return res;
  } else {
    const int fd = ::memfd_create("photo-blob", MFD_CLOEXEC);
    if (fd < 0) return unavailable(InternalError("io_error", "memfd_create failed"));
    std::uint64_t size = 0;
    Status s = ctx.remote_blobs->Get(key, [&](std::string_view chunk) {
      while (!chunk.empty()) {
        const ssize_t n = ::write(fd, chunk.data(), chunk.size());
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return InternalError("io_error", "memfd write failed");
        chunk.remove_prefix(static_cast<std::size_t>(n));
        size += static_cast<std::uint64_t>(n);
      }
      return Status::Ok();
    });
    if (!s.ok()) {
      ::close(fd);
      if (s.code() == StatusCode::kNotFound) return NotFound("the file of " + what + " is not there");
      return unavailable(s);
    }
    res = FileResponse(req, fd, size, content_type);
    // Uploaded bytes could be a polyglot: never let a browser run them.
    res.headers.Set("Content-Security-Policy", "default-src 'none'; sandbox");
  }
  res.headers.Set("ETag", head->etag);
  res.headers.Set("Cache-Control", needed_credentials ? "private, max-age=31536000, immutable"
                                                      : "public, max-age=31536000, immutable");
  return res;
}

Response GetImage(ApiContext& ctx, const Request& req) {
  const std::string id(req.Param("id"));
  const std::string name(req.Param("rendition"));
  if (!IsValidImageId(id) || !IsValidRenditionName(name)) return NotFound("no such image or rendition");
  // Access is decided before the store is asked, so a refusal says nothing
  // about whether the image exists.
  bool needed_credentials = false;
  if (std::optional<Response> refused =
          CheckAccess(ctx, req, "/images/" + id + "/" + name, name == "original", &needed_credentials)) {
    return std::move(*refused);
  }
  Result<store::ImageRecord> rec = ctx.store->Get(id);
  if (!rec) return StoreError(ctx, rec.error());

  std::string rel;
  std::string content_type;
  if (name == "original") {
    rel = rec->original_path;
    content_type = MimeForSourceFormat(rec->source_format);
  } else if (const image::Rendition* r = rec->FindRendition(name)) {
    rel = r->path;
    content_type = image::OutputMimeType(r->format);
  }
  if (rel.empty()) return NotFound("this image has no rendition '" + name + "' (yet)");
  if (ctx.remote_blobs != nullptr) {
    // Keys are relative paths; a clean/ intermediate is never published.
    if (!storage::ValidateKey(rel).ok() || rel.find("/clean/") != std::string::npos)
      return NotFound("this image has no rendition '" + name + "' (yet)");
    return RemoteBlobResponse(ctx, req, rel, "rendition '" + name + "'", content_type, needed_credentials);
  }
  fs::path file = fs::path(rel).is_absolute() ? fs::path(rel) : ctx.config.data_dir / rel;
  // A record is trusted data, but a path outside the data dir is never
  // served; and a rendition still waiting for its watermark (clean/) is not
  // published.
  if (!IsWithin(ctx.config.data_dir, file) || IsWithin(ctx.layout.ImageDir(id) / "clean", file)) {
    return NotFound("this image has no rendition '" + name + "' (yet)");
  }
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
  struct stat st {};
  if (fd < 0 || ::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    if (fd >= 0) ::close(fd);
    return NotFound("the file of rendition '" + name + "' is not there");
  }
  // Files are written once (atomic rename) and never modified in place, so
  // id + name + size + mtime identifies the bytes.
  const std::string etag = FileETag(id + "/" + name, static_cast<std::uint64_t>(st.st_size), st.st_mtim.tv_sec,
                                    st.st_mtim.tv_nsec);
  Response res;
  if (IfNoneMatchHits(req.headers.Get("If-None-Match"), etag)) {
    ::close(fd);
    res.status = 304;
  } else {
    res = FileResponse(req, fd, static_cast<std::uint64_t>(st.st_size), content_type);
    // Uploaded bytes could be a polyglot: never let a browser run them.
    res.headers.Set("Content-Security-Policy", "default-src 'none'; sandbox");
  }
  res.headers.Set("ETag", etag);
  // Bytes never change, but what needed credentials must stay out of
  // shared caches.
  res.headers.Set("Cache-Control", needed_credentials ? "private, max-age=31536000, immutable"
                                                      : "public, max-age=31536000, immutable");
  return res;
}

// DELETE /images/{id} (admin): erases the record (no tombstone: a deleted
// image is a 404 like one that never was), the original and every rendition
// (through the blob store: local files or S3),
// then announces {"status": "deleted"} on processed_images. Idempotent: an id
// with nothing left is answered 204 again and the event published again (same
// event_id "<id>:deleted", so listeners drop the duplicate); that is also how a
// 503 (the broker did not confirm the event) is retried.
Response DeleteImage(ApiContext& ctx, const Request& req) {
  if (ctx.config.admin_token.empty()) {
    return ErrorResponse(403, "forbidden", "admin routes are closed (PHOTO_PIPELINE_ADMIN_TOKEN is not set)");
  }
  if (!HasToken(req, ctx.config.admin_token)) {
    if (BearerToken(req)) return ErrorResponse(403, "forbidden", "this token may not delete images");
    return UnauthorizedResponse("DELETE /images/{id} needs the admin token");
  }
  const std::string id(req.Param("id"));
  if (!IsValidImageId(id)) return NotFound("no image with this id");
  std::string filename;
  if (Result<store::ImageRecord> rec = ctx.store->Get(id)) {
    filename = rec->filename;
  } else if (rec.error().code() != StatusCode::kNotFound) {
    return StoreError(ctx, rec.error());
  }
  // The record first: a worker still busy with this image sees it gone when
  // it records its outputs, and erases them (worker/job_handler.h). Blobs
  // whose erasure fails now are erased by the retried DELETE (503) or by
  // `photo-pipeline sweep`.
  if (Status s = ctx.store->Delete(id); !s.ok() && s.code() != StatusCode::kNotFound) return StoreError(ctx, s);
  if (Status s = EraseImageBlobs(ctx, id); !s.ok()) return StatusResponse(s, 503, ctx.config.retry_after_s);
  const std::string event_id = id + ":deleted";
  nlohmann::json event = {{"event_id", event_id},     {"id", id},
                          {"filename", filename},     {"status", "deleted"},
                          {"content_status", nullptr}, {"renditions", nlohmann::json::object()},
                          {"detections", nullptr},    {"completed_at", NowIso8601()}};
  broker::OutgoingMessage m;
  m.exchange = broker::kEventsExchange;
  m.body = event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  m.message_id = event_id;
  m.headers["event_id"] = event_id;
  if (Status s = ctx.publisher->Publish(m); !s.ok()) {
    return StatusResponse(UnavailableError("broker_unavailable", s.ToString()), 503, ctx.config.retry_after_s);
  }
  Response res;
  res.status = 204;
  return res;
}

}  // namespace

// With a signing key, every rendition URL in a record is signed (the
// original's too: it is how a client without the admin token gets it).
void SignUrls(const ApiContext& ctx, nlohmann::json& record) {
  if (record.contains("renditions")) signing::SignRenditionUrls(ctx.signer, record["renditions"], NowSeconds());
}

Status RegisterImageRoutes(Router& router, ApiContext& ctx) {
  RETURN_IF_ERROR(router.Add({.method = "DELETE",
                              .pattern = "/images/{id}",
                              .handler = [&ctx](const Request& req) { return DeleteImage(ctx, req); }}));
  RETURN_IF_ERROR(router.Add({.method = "GET",
                              .pattern = "/status/{id}",
                              .handler = [&ctx](const Request& req) { return GetStatus(ctx, req); }}));
  RETURN_IF_ERROR(router.Add({.method = "GET",
                              .pattern = "/images/{id}/{rendition}",
                              .handler = [&ctx](const Request& req) { return GetImage(ctx, req); }}));
  return Status::Ok();
}

}  // namespace photo::http
