// POST /upload/ and POST /upload: the multipart body streams through
// MultipartParser into a temp file under <data>/tmp (never held in memory),
// is probed from there, persisted (original_store.h), recorded, and its
// resize job published with a confirm. 202 only once all of that holds; on a
// refusal of the store or the broker everything is rolled back first.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <optional>

#include "photo/broker/messages.h"
#include "photo/core/ids.h"
#include "photo/http/auth.h"
#include "photo/http/multipart.h"
#include "photo/http/original_store.h"
#include "photo/http/responses.h"
#include "photo/http/routes.h"
#include "photo/image/probe.h"
#include "photo/store/image_record.h"

namespace photo::http {
namespace {

namespace fs = std::filesystem;

constexpr char kUploadedTmpPrefix[] = "upload-";
constexpr char kUploadedTmpSuffix[] = ".part";

// Metric names (documented in docs/api.md).
constexpr char kMetricUploads[] = "photo_uploads_total";
constexpr char kMetricUploadBytes[] = "photo_upload_bytes_total";
constexpr char kMetricRejects[] = "photo_upload_rejects_total";

Status ErrnoError(std::string_view what, const fs::path& p) {
  int e = errno;
  if (e == ENOSPC || e == EDQUOT) {
    return UnavailableError("disk_full", std::string(what) + " " + p.string() + ": " + std::strerror(e));
  }
  return InternalError("io_error", std::string(what) + " " + p.string() + ": " + std::strerror(e));
}

// An open file descriptor that closes itself.
struct FileHandle {
  explicit FileHandle(int f) : fd(f) {}
  ~FileHandle() {
    if (fd >= 0) ::close(fd);
  }
  FileHandle(const FileHandle&) = delete;
  FileHandle& operator=(const FileHandle&) = delete;
  int fd;
};

// The default probe: image::ProbeBuffer over the upload. Up to kProbeReadMax
// one pread into a heap buffer (mmap + munmap in a many-threaded process
// costs a TLB-shootdown IPI to every core per upload, which on this VM
// outweighs copying 200 kB); above it a read-only mapping (no copy of a big
// upload; its pages are the page cache the upload was just written to).
constexpr std::uint64_t kProbeReadMax = 1u << 20;

Result<image::ProbeInfo> ProbeUpload(const fs::path& path, const image::Limits& limits) {
  FileHandle f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (f.fd < 0 || ::fstat(f.fd, &st) != 0) return ErrnoError("open", path);
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size == 0 || size > limits.max_bytes) {
    // Nothing to map; the probe answers empty_file / too_large from the size.
    return image::ProbeFile(path, limits);
  }
  if (size <= kProbeReadMax) {
    std::string buf(static_cast<size_t>(size), '\0');
    size_t got = 0;
    while (got < buf.size()) {
      const ssize_t n = ::pread(f.fd, buf.data() + got, buf.size() - got, static_cast<off_t>(got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return ErrnoError("read", path);
      got += static_cast<size_t>(n);
    }
    return image::ProbeBuffer(buf, limits);
  }
  void* p = ::mmap(nullptr, static_cast<size_t>(size), PROT_READ, MAP_PRIVATE, f.fd, 0);
  if (p == MAP_FAILED) return ErrnoError("mmap", path);
  Result<image::ProbeInfo> info =
      image::ProbeBuffer(std::string_view(static_cast<const char*>(p), static_cast<size_t>(size)), limits);
  ::munmap(p, static_cast<size_t>(size));
  return info;
}

// One upload request. The multipart events arrive on the I/O thread (one
// at a time); the `file` part goes straight to a temp file, other fields are
// dropped. Once the upload is refused (no token, second file, file over the
// limit, disk error) the temp file goes at once and the rest of the body is
// read and dropped, so the connection stays usable for the next request.
// Owns the temp file: removed on destruction unless persisted.
class UploadReader : public BodyReader, public MultipartHandler {
 public:
  UploadReader(ApiContext& ctx, const Request& req) : ctx_(ctx) {
    authorized_ = ctx.config.api_token.empty() || HasToken(req, ctx.config.api_token);
    if (!authorized_) return;
    Result<std::string> boundary = MultipartBoundary(req.headers.Get("Content-Type"));
    if (!boundary) {
      error_ = boundary.error();
      return;
    }
    parser_.emplace(*boundary, this);
  }
  ~UploadReader() override { Discard(); }

  void OnData(std::string_view data) override {
    if (!authorized_ || !error_.ok() || !parser_) return;
    if (Status s = parser_->Feed(data); !s.ok() && error_.ok()) {
      error_ = s;
      Discard();
    }
  }

  Response Finish(const Status& body) override {
    if (!body.ok()) {
      Status s = body;
      if (s.reason() == "too_large") {
        s = ResourceExhaustedError("too_large", "the request body exceeds " +
                                                    std::to_string(ctx_.config.max_body_bytes()) +
                                                    " bytes (images up to " +
                                                    std::to_string(ctx_.config.limits.max_bytes) + " bytes)");
      } else if (s.reason() == "malformed_body") {
        s = InvalidArgumentError("malformed_multipart", "the multipart/form-data body could not be parsed");
      }
      return Reject(s);
    }
    if (!authorized_) {
      Count("unauthorized", 401);
      return UnauthorizedResponse("POST /upload needs 'Authorization: Bearer <token>'");
    }
    if (!error_.ok()) return Reject(error_);
    if (Status s = parser_->Finish(); !s.ok()) return Reject(s);
    if (!saw_file_) return Reject(InvalidArgumentError("missing_file", "no form field named 'file'"));
    if (Status s = CloseTemp(); !s.ok()) return Reject(s);

    Result<image::ProbeInfo> info = ctx_.probe(path_, ctx_.config.limits);
    if (!info) {
      Status s = info.error();
      // The probe's own I/O trouble is ours, not the client's.
      if (s.reason() == "io_error" || s.reason() == "not_found") s = InternalError("io_error", s.message());
      return Reject(s);
    }
    return Accept(*info);
  }

  // --- MultipartHandler ---
  Status OnPartBegin(const PartHeader& part) override {
    in_file_ = false;
    if (part.name != "file") return Status::Ok();
    if (saw_file_) {
      // Two files would need two ids and two answers; the compat clients
      // send one. Refuse rather than silently pick one.
      return InvalidArgumentError("too_many_files", "more than one 'file' part; send one image per request");
    }
    saw_file_ = true;
    filename_ = part.filename;
    path_ = ctx_.config.data_dir / "tmp" / (kUploadedTmpPrefix + NewImageId() + kUploadedTmpSuffix);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd_ < 0) {
      Status s = ErrnoError("create", path_);
      path_.clear();
      return s;
    }
    in_file_ = true;
    return Status::Ok();
  }

  Status OnPartData(std::string_view data) override {
    if (!in_file_) return Status::Ok();
    bytes_ += data.size();
    if (bytes_ > ctx_.config.limits.max_bytes) {
      return ResourceExhaustedError("too_large",
                                    "the file exceeds " + std::to_string(ctx_.config.limits.max_bytes) + " bytes");
    }
    const char* p = data.data();
    size_t n = data.size();
    while (n > 0) {
      ssize_t w = ::write(fd_, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        return ErrnoError("write", path_);
      }
      p += w;
      n -= static_cast<size_t>(w);
    }
    return Status::Ok();
  }

  Status OnPartEnd() override {
    in_file_ = false;
    return Status::Ok();
  }

 private:
  // With remote storage the temp file is only the PUT's source, gone once the
  // object is acknowledged: syncing it would write to the disk bytes that
  // the store makes durable anyway.
  Status CloseTemp() {
    if (ctx_.remote_blobs == nullptr && ::fsync(fd_) != 0) return ErrnoError("fsync", path_);
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return ErrnoError("close", path_);
    return Status::Ok();
  }

  void Discard() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (!path_.empty() && !persisted_) ::unlink(path_.c_str());
    path_.clear();
    in_file_ = false;
  }

  void Count(const std::string& reason, int http) {
    const char* result = http == 503 ? "unavailable" : http >= 500 ? "error" : "rejected";
    ctx_.metrics->Add(kMetricUploads, {{"result", result}});
    ctx_.metrics->Add(kMetricRejects, {{"reason", reason}});
  }

  // A refused upload: JSON error, status from the reason, counted.
  Response Reject(const Status& s) {
    Discard();
    const int http = HttpStatusFor(s);
    Count(s.reason(), http);
    return StatusResponse(s, http, ctx_.config.retry_after_s);
  }

  Response Accept(const image::ProbeInfo& info) {
    const std::string id = NewImageId();
    const std::string filename = SanitizeFilename(filename_);
    Result<std::string> rel_path = PersistOriginal(ctx_, path_, id);
    if (!rel_path) {
      RemoveOriginal(ctx_, id);
      return Reject(rel_path.error());
    }
    persisted_ = true;
    path_.clear();

    store::ImageRecord record = store::NewRecord(id, filename, NowUnixMillis());
    record.original_path = *rel_path;
    record.source_format = image::FormatName(info.format);
    record.width = info.width;
    record.height = info.height;
    record.bytes = bytes_;
    if (Status s = ctx_.store->Create(record); !s.ok()) {
      spdlog::warn("upload {}: store refused the record: {}", id, s.ToString());
      RemoveOriginal(ctx_, id);
      return Reject(IsUnavailable(s) ? UnavailableError("store_unavailable", s.ToString())
                                     : InternalError("internal", s.ToString()));
    }
    broker::OutgoingMessage job = broker::MakeJobMessage(
        {.id = id, .filename = filename, .path = *rel_path, .stage = broker::kResizeQueue});
    if (Status s = ctx_.publisher->Publish(job); !s.ok()) {
      spdlog::warn("upload {}: broker did not confirm the resize job: {}", id, s.ToString());
      if (Status d = ctx_.store->Delete(id); !d.ok()) {
        // Left as "uploaded" with no job: visible, and harmless to clients
        // that never got an id.
        spdlog::error("upload {}: rollback could not delete the record: {}", id, d.ToString());
      }
      RemoveOriginal(ctx_, id);
      return Reject(UnavailableError("broker_unavailable", s.ToString()));
    }

    ctx_.metrics->Add(kMetricUploads, {{"result", "accepted"}});
    ctx_.metrics->Add(kMetricUploadBytes, {}, static_cast<double>(bytes_));
    spdlog::info("upload {} accepted: {} {}x{} {} bytes, filename '{}'", id, record.source_format, record.width,
                 record.height, record.bytes, filename);
    const std::string status_url = "/status/" + id;
    Response res =
        JsonResponse(202, {{"id", id}, {"filename", filename}, {"status", "uploaded"}, {"status_url", status_url}});
    res.headers.Set("Location", status_url);
    return res;
  }

  ApiContext& ctx_;
  bool authorized_ = false;
  std::optional<MultipartParser> parser_;
  Status error_;
  fs::path path_;
  int fd_ = -1;
  bool persisted_ = false;
  bool in_file_ = false;
  bool saw_file_ = false;
  std::string filename_;
  std::uint64_t bytes_ = 0;
};

}  // namespace

ProbeFn DefaultProbe() { return ProbeUpload; }

Status RegisterUploadRoutes(Router& router, ApiContext& ctx) {
  ctx.metrics->DeclareCounter(
      kMetricUploads, "Upload attempts by result: accepted, rejected (client error), unavailable (503), error (500).");
  ctx.metrics->DeclareCounter(kMetricUploadBytes, "Bytes of accepted uploads (the stored originals).");
  ctx.metrics->DeclareCounter(kMetricRejects, "Uploads refused, by error code.");
  for (const char* pattern : {"/upload/", "/upload"}) {
    RETURN_IF_ERROR(router.Add({.method = "POST",
                                .pattern = pattern,
                                .handler = {},
                                .body_handler = [&ctx](const Request& req) -> std::unique_ptr<BodyReader> {
                                  return std::make_unique<UploadReader>(ctx, req);
                                },
                                .inline_io = false,
                                .max_body_bytes = ctx.config.max_body_bytes(),
                                .metric_route = "/upload"}));
  }
  return Status::Ok();
}

}  // namespace photo::http
