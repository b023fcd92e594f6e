// GET /status/{id} (the image record) and GET /images/{id}/{rendition} (the
// rendition's bytes, "original" included).
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "photo/core/files.h"
#include "photo/core/ids.h"
#include "photo/http/file_response.h"
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

Response GetStatus(ApiContext& ctx, const Request& req) {
  const std::string id(req.Param("id"));
  if (!IsValidImageId(id)) return NotFound("no image with this id");
  Result<store::ImageRecord> rec = ctx.store->Get(id);
  if (!rec) return StoreError(ctx, rec.error());
  Response res = JsonResponse(200, store::RecordToApiJson(*rec));
  res.headers.Set("Cache-Control", "no-store");
  return res;
}

Response GetImage(ApiContext& ctx, const Request& req) {
  const std::string id(req.Param("id"));
  const std::string name(req.Param("rendition"));
  if (!IsValidImageId(id) || !IsValidRenditionName(name)) return NotFound("no such image or rendition");
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
  res.headers.Set("Cache-Control", "public, max-age=31536000, immutable");
  return res;
}

}  // namespace

Status RegisterImageRoutes(Router& router, ApiContext& ctx) {
  RETURN_IF_ERROR(router.Add({.method = "GET",
                              .pattern = "/status/{id}",
                              .handler = [&ctx](const Request& req) { return GetStatus(ctx, req); }}));
  RETURN_IF_ERROR(router.Add({.method = "GET",
                              .pattern = "/images/{id}/{rendition}",
                              .handler = [&ctx](const Request& req) { return GetImage(ctx, req); }}));
  return Status::Ok();
}

}  // namespace photo::http
