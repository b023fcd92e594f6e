#include "photo/http/api_server.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <vector>

#include "photo/broker/messages.h"
#include "photo/core/files.h"
#include "photo/core/ids.h"
#include "photo/http/openapi.h"
#include "photo/image/probe.h"
#include "photo/store/record_json.h"

namespace photo::http {
namespace fs = std::filesystem;
using httplib::Request;
using httplib::Response;
using metrics::Labels;

namespace {

constexpr char kJson[] = "application/json";
constexpr char kUploadedTmpPrefix[] = "upload-";
constexpr char kUploadedTmpSuffix[] = ".part";

// Metric names (documented in docs/api.md).
constexpr char kMetricRequests[] = "photo_http_requests_total";
constexpr char kMetricDuration[] = "photo_http_request_duration_seconds";
constexpr char kMetricUploads[] = "photo_uploads_total";
constexpr char kMetricUploadBytes[] = "photo_upload_bytes_total";
constexpr char kMetricRejects[] = "photo_upload_rejects_total";
constexpr char kMetricImages[] = "photo_images";

// One route of the API: method, the path as the spec spells it, and the regex
// cpp-httplib matches against the decoded path.
struct Route {
  const char* method;
  const char* path;
  const char* regex;
};
constexpr Route kRoutes[] = {
    {"POST", "/upload/", "/upload/"},
    {"POST", "/upload", "/upload"},
    {"GET", "/status/{id}", "/status/(.+)"},
    {"GET", "/images/{id}/{rendition}", "/images/([^/]+)/([^/]+)"},
    {"GET", "/healthz", "/healthz"},
    {"GET", "/readyz", "/readyz"},
    {"GET", "/metrics", "/metrics"},
    {"GET", "/openapi.json", "/openapi.json"},
    {"GET", "/docs", "/docs"},
};

// Per-request bookkeeping for the access log and the request metrics.
// cpp-httplib serves one request start to finish on one pool thread (the
// pre-routing handler, the route handler and the logger all run there), so a
// thread_local is the request's context.
struct RequestContext {
  std::chrono::steady_clock::time_point start;
  bool started = false;
  const char* route = "unmatched";
};
thread_local RequestContext tl_request;

void EnterRoute(const char* route) {
  tl_request.route = route;
  if (!tl_request.started) {
    tl_request.start = std::chrono::steady_clock::now();
    tl_request.started = true;
  }
}

std::string ErrorBody(std::string_view code, std::string_view message) {
  nlohmann::json j = {{"error", {{"code", code}, {"message", message}}}};
  return j.dump();
}

void SetJson(Response& res, int status, const nlohmann::json& body) {
  res.status = status;
  res.set_content(body.dump(), kJson);
}

// The public HTTP status for a failure, decided by its reason first (one code
// can mean two answers, see docs/api.md) and its code second.
int HttpStatusFor(const Status& s) {
  const std::string& r = s.reason();
  if (r == "unsupported_media_type" || r == "corrupt_image") return 415;
  if (r == "empty_file" || r == "missing_file" || r == "malformed_multipart" ||
      r == "too_many_files") {
    return 400;
  }
  if (r == "too_large" || r == "too_many_pixels" || r == "too_many_frames") return 413;
  if (r == "unauthorized") return 401;
  switch (s.code()) {
    case StatusCode::kInvalidArgument:
      return 400;
    case StatusCode::kNotFound:
      return 404;
    case StatusCode::kResourceExhausted:
      return 413;
    case StatusCode::kUnavailable:
    case StatusCode::kDeadlineExceeded:
      return 503;
    default:
      return 500;
  }
}

// The store or the broker could take it later: 503 + Retry-After. Anything
// else from them (a corrupt record, a bug) is a 500, not an invitation to
// retry.
bool IsUnavailable(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded;
}

// Constant-time equality, so response timing does not reveal how much of a
// guessed token was right.
bool SecureEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;  // the length is no secret worth hiding
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

// The request body was not read to its end. cpp-httplib 0.11 ignores a
// "Connection: close" response header for its own keep-alive loop (the left
// over bytes get parsed as further requests and answered 400), but clients
// honour it and stop reusing the connection. Rare by construction: refused
// uploads are drained (see UploadSink) and only a body that is not even
// well-formed, or a chunked one far over the limit, ends here.
void CloseAfter(Response& res) { res.set_header("Connection", "close"); }

// FNV-1a 64: a stable, dependency-free digest for ETags.
std::uint64_t Fnv1a(std::string_view data) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

std::string Hex64(std::uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(v));
  return buf;
}

// RFC 9110 If-None-Match: "*" or a list of entity tags, compared weakly.
bool IfNoneMatchHits(const std::string& header, const std::string& etag) {
  if (header.empty()) return false;
  size_t pos = 0;
  while (pos < header.size()) {
    size_t comma = header.find(',', pos);
    if (comma == std::string::npos) comma = header.size();
    std::string_view tag(header.data() + pos, comma - pos);
    while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) tag.remove_prefix(1);
    while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) tag.remove_suffix(1);
    if (tag == "*") return true;
    if (tag.substr(0, 2) == "W/") tag.remove_prefix(2);
    if (tag == etag) return true;
    pos = comma + 1;
  }
  return false;
}

const char* MimeForSourceFormat(const std::string& name) {
  for (image::Format f : {image::Format::kJpeg, image::Format::kPng, image::Format::kWebp,
                          image::Format::kGif, image::Format::kTiff, image::Format::kHeif,
                          image::Format::kAvif}) {
    if (name == image::FormatName(f)) return image::MimeType(f);
  }
  return "application/octet-stream";
}

bool IsValidRenditionName(const std::string& name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
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

Status ErrnoError(std::string_view what, const fs::path& p) {
  int e = errno;
  if (e == ENOSPC || e == EDQUOT) {
    return UnavailableError("disk_full", std::string(what) + " " + p.string() + ": " + std::strerror(e));
  }
  return InternalError("io_error", std::string(what) + " " + p.string() + ": " + std::strerror(e));
}

// Receives the multipart body of one upload: the `file` part goes to a temp
// file (buffered, so the 4 KiB chunks cpp-httplib hands over become 64 KiB
// writes); other fields are read and dropped. Owns the temp file: it is
// removed on destruction unless Release()d after the final rename.
//
// Once the upload is refused (second file, file over the limit, disk error)
// the temp file goes at once and the rest of the body is read and dropped, so
// the connection stays usable for the client's next request (cpp-httplib
// 0.11 cannot close it for us). Only a body that goes on past
// `max_body_bytes` (chunked: no Content-Length to refuse up front) is cut.
class UploadSink {
 public:
  UploadSink(fs::path tmp_dir, std::uint64_t max_bytes, std::uint64_t max_body_bytes)
      : tmp_dir_(std::move(tmp_dir)), max_bytes_(max_bytes), max_body_bytes_(max_body_bytes) {}
  ~UploadSink() { Discard(); }
  UploadSink(const UploadSink&) = delete;
  UploadSink& operator=(const UploadSink&) = delete;

  bool OnHeader(const httplib::MultipartFormData& part) {
    in_file_ = false;
    if (part.name != "file" || !error_.ok()) return true;
    if (saw_file_) {
      // Two files in one request would need two ids and two answers; the
      // compat clients send one. Refuse rather than silently pick one.
      return Fail(InvalidArgumentError("too_many_files",
                                       "more than one 'file' part; send one image per request"));
    }
    saw_file_ = true;
    filename_ = part.filename;
    path_ = tmp_dir_ / (kUploadedTmpPrefix + NewImageId() + kUploadedTmpSuffix);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd_ < 0) {
      Status s = ErrnoError("create", path_);
      path_.clear();
      return Fail(s);
    }
    in_file_ = true;
    buffer_.reserve(kBufferSize);
    return true;
  }

  bool OnData(const char* data, size_t n) {
    body_bytes_ += n;
    if (body_bytes_ > max_body_bytes_) {
      if (error_.ok()) {
        error_ = ResourceExhaustedError(
            "too_large", "the request body exceeds " + std::to_string(max_body_bytes_) + " bytes");
      }
      cut_ = true;
      Discard();
      return false;
    }
    if (!in_file_) return true;
    bytes_ += n;
    if (bytes_ > max_bytes_) {
      return Fail(ResourceExhaustedError("too_large",
                                         "the file exceeds " + std::to_string(max_bytes_) + " bytes"));
    }
    if (buffer_.size() + n > kBufferSize && !Flush()) return true;
    if (n >= kBufferSize) {
      WriteAll(data, n);
      return true;
    }
    buffer_.insert(buffer_.end(), data, data + n);
    return true;
  }

  // Flushes, fsyncs and closes the temp file.
  Status Finish() {
    if (!error_.ok()) return error_;
    if (!Flush()) return error_;
    if (::fsync(fd_) != 0) return ErrnoError("fsync", path_);
    int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) return ErrnoError("close", path_);
    return Status::Ok();
  }

  void Release() { released_ = true; }

  const Status& error() const { return error_; }
  // True when the body was cut before its end (the connection is spoilt).
  bool cut() const { return cut_; }
  bool saw_file() const { return saw_file_; }
  const std::string& filename() const { return filename_; }
  std::uint64_t bytes() const { return bytes_; }
  const fs::path& path() const { return path_; }

 private:
  static constexpr size_t kBufferSize = 64 * 1024;

  // Records the first failure, drops the temp file, and keeps the body
  // flowing (into the void).
  bool Fail(Status s) {
    if (error_.ok()) error_ = std::move(s);
    in_file_ = false;
    Discard();
    return true;
  }

  void Discard() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
    if (!path_.empty() && !released_) ::unlink(path_.c_str());
    path_.clear();
    buffer_.clear();
  }

  bool Flush() {
    if (buffer_.empty()) return true;
    bool ok = WriteAll(buffer_.data(), buffer_.size());
    buffer_.clear();
    return ok;
  }

  bool WriteAll(const char* p, size_t n) {
    while (n > 0) {
      ssize_t w = ::write(fd_, p, n);
      if (w < 0) {
        if (errno == EINTR) continue;
        Fail(ErrnoError("write", path_));
        return false;
      }
      p += w;
      n -= static_cast<size_t>(w);
    }
    return true;
  }

  fs::path tmp_dir_;
  std::uint64_t max_bytes_;
  std::uint64_t max_body_bytes_;
  std::uint64_t body_bytes_ = 0;
  bool cut_ = false;
  fs::path path_;
  int fd_ = -1;
  bool released_ = false;
  bool in_file_ = false;
  bool saw_file_ = false;
  std::string filename_;
  std::uint64_t bytes_ = 0;
  std::vector<char> buffer_;
  Status error_;
};

// The default probe: image::ProbeBuffer over the upload. image::ProbeFile
// reads the whole file into a fresh string (a 40 MB upload peaked at ~160 MB
// of heap); above kProbeReadMax a read-only mapping costs no copy and its
// pages are the page cache the upload was just written to.
constexpr std::uint64_t kProbeReadMax = 1u << 20;

Result<image::ProbeInfo> ProbeMapped(const fs::path& path, const image::Limits& limits) {
  FileHandle f(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  struct stat st {};
  if (f.fd < 0 || ::fstat(f.fd, &st) != 0) return ErrnoError("open", path);
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size == 0 || size > limits.max_bytes) {
    // Nothing to map; the probe answers empty_file / too_large from the size.
    return image::ProbeFile(path, limits);
  }
  if (size <= kProbeReadMax) {
    // Small uploads: one pread into a heap buffer. mmap + munmap in a
    // many-threaded process costs a TLB-shootdown IPI to every core on each
    // upload, which on this VM outweighs copying 200 kB. (Not thread_local:
    // 64 HTTP threads each keeping their largest upload cost 160 MB of RSS;
    // the tuned heap hands the freed block to the next upload anyway.)
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

}  // namespace

// The route handlers and their shared state. Lives as long as the server.
class ApiServer::Handlers {
 public:
  Handlers(const ApiConfig& config, const ApiDeps& deps, metrics::MetricsRegistry& m,
           const pipeline::Layout& layout)
      : config_(config), deps_(deps), metrics_(m), layout_(layout) {
    probe_ = deps.probe ? deps.probe : ProbeFn(ProbeMapped);
    metrics_.DeclareCounter(kMetricRequests, "HTTP requests answered, by route, method and status code.");
    metrics_.DeclareHistogram(kMetricDuration, "Time from routing to the response being written, by route.",
                              metrics::DefaultLatencyBuckets());
    metrics_.DeclareCounter(kMetricUploads, "Upload attempts by result: accepted, rejected (client error), unavailable (503), error (500).");
    metrics_.DeclareCounter(kMetricUploadBytes, "Bytes of accepted uploads (the stored originals).");
    metrics_.DeclareCounter(kMetricRejects, "Uploads refused, by error code.");
    metrics_.DeclareGauge(kMetricImages, "Images in the store, by status (read at scrape time).");
  }

  void Register(httplib::Server& s) {
    auto upload = [this](const Request& req, Response& res, const httplib::ContentReader& reader) {
      Upload(req, res, reader);
    };
    s.Post(kRoutes[0].regex, upload);
    s.Post(kRoutes[1].regex, upload);
    s.Get(kRoutes[2].regex, [this](const Request& req, Response& res) { GetStatus(req, res); });
    s.Get(kRoutes[3].regex, [this](const Request& req, Response& res) { GetImage(req, res); });
    s.Get(kRoutes[4].regex, [](const Request&, Response& res) {
      EnterRoute("/healthz");
      SetJson(res, 200, {{"status", "ok"}});
    });
    s.Get(kRoutes[5].regex, [this](const Request& req, Response& res) { Ready(req, res); });
    s.Get(kRoutes[6].regex, [this](const Request& req, Response& res) { Metrics(req, res); });
    s.Get(kRoutes[7].regex, [](const Request&, Response& res) {
      EnterRoute("/openapi.json");
      res.status = 200;
      res.set_content(std::string(OpenApiSpec()), kJson);
    });
    s.Get(kRoutes[8].regex, [](const Request&, Response& res) {
      EnterRoute("/docs");
      res.status = 200;
      // The page has no scripts; the form may only post back to us.
      res.set_header("Content-Security-Policy",
                     "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'");
      res.set_content(RenderDocsPage(OpenApiSpec()), "text/html; charset=utf-8");
    });

    s.set_pre_routing_handler([this](const Request&, Response& res) {
      tl_request.start = std::chrono::steady_clock::now();
      tl_request.started = true;
      tl_request.route = "unmatched";
      res.set_header("X-Content-Type-Options", "nosniff");
      return httplib::Server::HandlerResponse::Unhandled;
    });
    s.set_error_handler(httplib::Server::HandlerWithResponse(
        [this](const Request& req, Response& res) { return OnError(req, res); }));
    s.set_exception_handler([](const Request& req, Response& res, std::exception_ptr ep) {
      std::string what = "unknown exception";
      try {
        if (ep) std::rethrow_exception(ep);
      } catch (const std::exception& e) {
        what = e.what();
      } catch (...) {
      }
      spdlog::error("http: unhandled exception in {} {}: {}", req.method, req.path, what);
      res.status = 500;
      res.set_content(ErrorBody("internal", "internal error"), kJson);
    });
    s.set_logger([this](const Request& req, const Response& res) { OnLogged(req, res); });
  }

 private:
  // --- POST /upload -------------------------------------------------------

  // Reads a request body to its end without keeping it, up to the body
  // limit. False when the body could not be read to its end.
  bool Drain(const Request& req, const httplib::ContentReader& reader) const {
    std::uint64_t seen = 0;
    const std::uint64_t cap = config_.max_body_bytes();
    auto sink = [&seen, cap](const char*, size_t n) {
      seen += n;
      return seen <= cap;
    };
    if (req.is_multipart_form_data()) {
      return reader([](const httplib::MultipartFormData&) { return true; }, sink);
    }
    return reader(sink);
  }

  std::string BodyTooLargeMessage() const {
    return "the request body exceeds " + std::to_string(config_.max_body_bytes()) +
           " bytes (images up to " + std::to_string(config_.limits.max_bytes) + " bytes)";
  }

  bool Authorized(const Request& req) const {
    if (config_.api_token.empty()) return true;
    std::string h = req.get_header_value("Authorization");
    constexpr std::string_view kScheme = "bearer ";
    if (h.size() < kScheme.size()) return false;
    for (size_t i = 0; i < kScheme.size(); ++i) {
      if (std::tolower(static_cast<unsigned char>(h[i])) != kScheme[i]) return false;
    }
    return SecureEquals(std::string_view(h).substr(kScheme.size()), config_.api_token);
  }

  void Unauthorized(Response& res) {
    res.set_header("WWW-Authenticate", "Bearer realm=\"photo-pipeline\"");
    Reject(res, Status(StatusCode::kFailedPrecondition, "unauthorized",
                       "POST /upload needs 'Authorization: Bearer <token>'"));
  }

  // A refused upload: JSON error, status from the reason, counted.
  void Reject(Response& res, const Status& s) {
    int http = HttpStatusFor(s);
    const char* result = http == 503 ? "unavailable" : http >= 500 ? "error" : "rejected";
    metrics_.Add(kMetricUploads, {{"result", result}});
    metrics_.Add(kMetricRejects, {{"reason", s.reason()}});
    SendStatus(res, s, http);
  }

  void SendStatus(Response& res, const Status& s, int http) {
    if (http == 503) res.set_header("Retry-After", std::to_string(config_.retry_after_s));
    if (http >= 500) {
      spdlog::warn("http: {} -> {}", s.ToString(), http);
    }
    // 5xx details stay in the log; the client gets the code and a fixed text.
    std::string message = http >= 500 ? PublicMessage(s, http) : s.message();
    res.status = http;
    res.set_content(ErrorBody(s.reason().empty() ? "internal" : s.reason(), message), kJson);
  }

  static std::string PublicMessage(const Status& s, int http) {
    if (s.reason() == "broker_unavailable") return "the job queue cannot take the job; retry later";
    if (s.reason() == "store_unavailable") return "the status store is unavailable; retry later";
    if (s.reason() == "disk_full") return "no space left to store the upload; retry later";
    return http == 503 ? "temporarily unavailable; retry later" : "internal error";
  }

  void Upload(const Request& req, Response& res, const httplib::ContentReader& reader) {
    EnterRoute("/upload");
    if (!Authorized(req)) {
      // Read (and drop) the body first so the connection stays usable.
      if (!Drain(req, reader)) CloseAfter(res);
      return Unauthorized(res);
    }
    if (!req.is_multipart_form_data()) {
      bool drained = Drain(req, reader);
      if (res.status == 413) return Reject(res, ResourceExhaustedError("too_large", BodyTooLargeMessage()));
      if (!drained) CloseAfter(res);
      return Reject(res, InvalidArgumentError("malformed_multipart",
                                              "expected a multipart/form-data body with a 'file' field"));
    }

    UploadSink sink(config_.data_dir / "tmp", config_.limits.max_bytes, config_.max_body_bytes());
    bool read_ok = reader(
        [&](const httplib::MultipartFormData& part) { return sink.OnHeader(part); },
        [&](const char* data, size_t n) { return sink.OnData(data, n); });
    if (!read_ok || sink.cut()) {
      // cpp-httplib status 413: Content-Length over the payload limit; it
      // read the body into the void before calling us back, so the
      // connection is fine. Anything else stopped mid-body.
      if (res.status == 413) return Reject(res, ResourceExhaustedError("too_large", BodyTooLargeMessage()));
      CloseAfter(res);
      if (!sink.error().ok()) return Reject(res, sink.error());
      return Reject(res, InvalidArgumentError("malformed_multipart",
                                              "the multipart/form-data body could not be parsed"));
    }
    if (!sink.error().ok()) return Reject(res, sink.error());
    if (!sink.saw_file()) {
      return Reject(res, InvalidArgumentError("missing_file", "no form field named 'file'"));
    }
    if (Status s = sink.Finish(); !s.ok()) return Reject(res, s);

    Result<image::ProbeInfo> info = probe_(sink.path(), config_.limits);
    if (!info) {
      Status s = info.error();
      // The probe's own I/O trouble is ours, not the client's.
      if (s.reason() == "io_error" || s.reason() == "not_found") {
        s = InternalError("io_error", s.message());
      }
      return Reject(res, s);
    }

    const std::string id = NewImageId();
    const std::string filename = SanitizeFilename(sink.filename());
    const fs::path original = layout_.Original(id);
    const std::string rel_path = original.lexically_relative(config_.data_dir).generic_string();
    if (Status s = StoreOriginal(sink, original); !s.ok()) {
      RemoveImageDir(id);
      return Reject(res, s);
    }
    sink.Release();

    store::ImageRecord record = store::NewRecord(id, filename, NowUnixMillis());
    record.original_path = rel_path;
    record.source_format = image::FormatName(info->format);
    record.width = info->width;
    record.height = info->height;
    record.bytes = sink.bytes();
    if (Status s = deps_.store->Create(record); !s.ok()) {
      spdlog::warn("upload {}: store refused the record: {}", id, s.ToString());
      RemoveImageDir(id);
      return Reject(res, IsUnavailable(s) ? UnavailableError("store_unavailable", s.ToString())
                                          : InternalError("internal", s.ToString()));
    }

    broker::OutgoingMessage job = broker::MakeJobMessage(
        {.id = id, .filename = filename, .path = rel_path, .stage = broker::kResizeQueue});
    if (Status s = deps_.publisher->Publish(job); !s.ok()) {
      spdlog::warn("upload {}: broker did not confirm the resize job: {}", id, s.ToString());
      if (Status d = deps_.store->Delete(id); !d.ok()) {
        // Left as "uploaded" with no job: visible, and harmless to clients
        // that never got an id.
        spdlog::error("upload {}: rollback could not delete the record: {}", id, d.ToString());
      }
      RemoveImageDir(id);
      return Reject(res, UnavailableError("broker_unavailable", s.ToString()));
    }

    metrics_.Add(kMetricUploads, {{"result", "accepted"}});
    metrics_.Add(kMetricUploadBytes, {}, static_cast<double>(sink.bytes()));
    spdlog::info("upload {} accepted: {} {}x{} {} bytes, filename '{}'", id, record.source_format,
                 record.width, record.height, record.bytes, filename);
    const std::string status_url = "/status/" + id;
    res.set_header("Location", status_url);
    SetJson(res, 202,
            {{"id", id}, {"filename", filename}, {"status", "uploaded"}, {"status_url", status_url}});
  }

  // Moves the fsynced temp file to its final place and makes the new
  // directory entries durable too (rename alone syncs only the last one):
  // images/ab (the new <id> entry) every time, and images/ (the ab entry)
  // the first time this process uses that prefix. A prefix directory is
  // never removed, so once an fsync of images/ has succeeded after it
  // existed, its entry is durable for good; later uploads need not repeat it
  // (one fsync less per upload, which matters on this no-journal ext4 where
  // each directory fsync is a synchronous write of its own).
  Status StoreOriginal(const UploadSink& sink, const fs::path& original) {
    const fs::path dir = original.parent_path();
    RETURN_IF_ERROR(MakeDirs(dir));
    RETURN_IF_ERROR(SyncPath(dir.parent_path()));
    const std::string prefix = dir.parent_path().filename().string();
    bool prefix_synced = false;
    {
      std::lock_guard<std::mutex> lock(synced_prefixes_mu_);
      prefix_synced = synced_prefixes_.count(prefix) != 0;
    }
    if (!prefix_synced) {
      RETURN_IF_ERROR(SyncPath(dir.parent_path().parent_path()));
      std::lock_guard<std::mutex> lock(synced_prefixes_mu_);
      synced_prefixes_.insert(prefix);
    }
    Status s = CommitFile(sink.path(), original);
    if (!s.ok() && s.reason() != "disk_full") s = InternalError("io_error", s.message());
    return s;
  }

  void RemoveImageDir(const std::string& id) {
    std::error_code ec;
    fs::remove_all(layout_.ImageDir(id), ec);
    if (ec) spdlog::error("upload {}: could not remove {}: {}", id, layout_.ImageDir(id).string(), ec.message());
  }

  // --- GET /status/{id} ---------------------------------------------------

  void GetStatus(const Request& req, Response& res) {
    EnterRoute("/status/{id}");
    const std::string id = req.matches[1];
    if (!IsValidImageId(id)) return NotFound(res, "no image with this id");
    Result<store::ImageRecord> rec = deps_.store->Get(id);
    if (!rec) return StoreError(res, rec.error());
    res.set_header("Cache-Control", "no-store");
    SetJson(res, 200, store::RecordToApiJson(*rec));
  }

  void NotFound(Response& res, std::string_view message) {
    res.status = 404;
    res.set_content(ErrorBody("not_found", message), kJson);
  }

  void StoreError(Response& res, const Status& s) {
    if (s.code() == StatusCode::kNotFound) return NotFound(res, "no image with this id");
    const bool unavailable = IsUnavailable(s);
    SendStatus(res,
               unavailable ? UnavailableError("store_unavailable", s.ToString())
                           : InternalError("internal", s.ToString()),
               unavailable ? 503 : 500);
  }

  // --- GET /images/{id}/{rendition} ---------------------------------------

  void GetImage(const Request& req, Response& res) {
    EnterRoute("/images/{id}/{rendition}");
    const std::string id = req.matches[1];
    const std::string name = req.matches[2];
    if (!IsValidImageId(id) || !IsValidRenditionName(name)) return NotFound(res, "no such image or rendition");
    Result<store::ImageRecord> rec = deps_.store->Get(id);
    if (!rec) return StoreError(res, rec.error());

    std::string rel;
    std::string content_type;
    if (name == "original") {
      rel = rec->original_path;
      content_type = MimeForSourceFormat(rec->source_format);
    } else if (const image::Rendition* r = rec->FindRendition(name)) {
      rel = r->path;
      content_type = image::OutputMimeType(r->format);
    }
    if (rel.empty()) return NotFound(res, "this image has no rendition '" + name + "' (yet)");
    fs::path file = fs::path(rel).is_absolute() ? fs::path(rel) : config_.data_dir / rel;
    // A record is trusted data, but a path outside the data dir is never
    // served; and a rendition still waiting for its watermark (clean/) is
    // not published.
    if (!IsWithin(config_.data_dir, file) || IsWithin(layout_.ImageDir(id) / "clean", file)) {
      return NotFound(res, "this image has no rendition '" + name + "' (yet)");
    }

    auto handle = std::make_shared<FileHandle>(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    struct stat st {};
    if (handle->fd < 0 || ::fstat(handle->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      return NotFound(res, "the file of rendition '" + name + "' is not there");
    }
    // Files are written once (atomic rename) and never modified in place, so
    // id + name + size + mtime identifies the bytes.
    const std::string etag =
        "\"" + Hex64(Fnv1a(id + "/" + name + "/" + std::to_string(st.st_size) + "/" +
                           std::to_string(st.st_mtim.tv_sec) + "." +
                           std::to_string(st.st_mtim.tv_nsec))) +
        "\"";
    res.set_header("ETag", etag);
    res.set_header("Cache-Control", "public, max-age=31536000, immutable");
    if (IfNoneMatchHits(req.get_header_value("If-None-Match"), etag)) {
      res.status = 304;
      return;
    }
    // Uploaded bytes could be a polyglot: never let a browser run them.
    res.set_header("Content-Security-Policy", "default-src 'none'; sandbox");
    // Status left unset: cpp-httplib answers 200, or 206 for a Range request.
    const auto size = static_cast<size_t>(st.st_size);
    res.set_content_provider(
        size, content_type, [handle](size_t offset, size_t length, httplib::DataSink& sink) {
          thread_local std::array<char, 64 * 1024> buf;
          size_t want = std::min(length, buf.size());
          ssize_t n = ::pread(handle->fd, buf.data(), want, static_cast<off_t>(offset));
          if (n <= 0) return false;
          return sink.write(buf.data(), static_cast<size_t>(n));
        });
  }

  // --- health, metrics ----------------------------------------------------

  void Ready(const Request&, Response& res) {
    EnterRoute("/readyz");
    Status store = deps_.store->Ping();
    Status broker = deps_.publisher->Ping();
    auto check = [](const Status& s) { return s.ok() ? std::string("ok") : s.ToString(); };
    nlohmann::json body = {{"checks", {{"store", check(store)}, {"broker", check(broker)}}}};
    if (store.ok() && broker.ok()) {
      body["status"] = "ready";
      return SetJson(res, 200, body);
    }
    std::string failed = !store.ok() && !broker.ok() ? "store, broker" : !store.ok() ? "store" : "broker";
    body["status"] = "not_ready";
    body["error"] = {{"code", "not_ready"}, {"message", "unavailable: " + failed}};
    res.set_header("Retry-After", std::to_string(config_.retry_after_s));
    SetJson(res, 503, body);
  }

  void Metrics(const Request&, Response& res) {
    EnterRoute("/metrics");
    if (auto counts = deps_.store->CountByStatus()) {
      for (const char* status : {"uploaded", "processing", "completed", "failed"}) {
        metrics_.Set(kMetricImages, {{"status", status}}, 0);
      }
      for (const auto& [status, n] : *counts) {
        metrics_.Set(kMetricImages, {{"status", status}}, static_cast<double>(n));
      }
    }
    res.status = 200;
    res.set_content(metrics_.RenderText(), "text/plain; version=0.0.4; charset=utf-8");
  }

  // --- errors cpp-httplib produced, logging -------------------------------

  httplib::Server::HandlerResponse OnError(const Request& req, Response& res) {
    // Our handlers always write a body; an empty one means cpp-httplib
    // answered on its own (no route, unparsable request, payload limit).
    if (!res.body.empty() || res.is_chunked_content_provider_ || res.content_length_ > 0) {
      return httplib::Server::HandlerResponse::Unhandled;
    }
    if (res.status == 404 || res.status == 400) {
      std::string allow = AllowedMethods(req.path);
      if (!allow.empty() && allow.find(req.method) == std::string::npos) {
        res.status = 405;
        res.set_header("Allow", allow);
        res.set_content(ErrorBody("method_not_allowed", req.method + " is not allowed here; use " + allow),
                        kJson);
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    switch (res.status) {
      case 404:
        res.set_content(ErrorBody("not_found", "no route for " + req.path), kJson);
        break;
      case 413:
        res.set_content(ErrorBody("too_large", "the request is too large"), kJson);
        break;
      case 414:
        res.set_content(ErrorBody("uri_too_long", "the request target is too long"), kJson);
        break;
      case 500:
        res.set_content(ErrorBody("internal", "internal error"), kJson);
        break;
      default:
        if (res.status >= 500) {
          res.set_content(ErrorBody("internal", "internal error"), kJson);
        } else {
          res.set_content(ErrorBody("bad_request", "the request could not be parsed"), kJson);
        }
    }
    return httplib::Server::HandlerResponse::Handled;
  }

  // Matches a path against a route's spec path: a "{param}" segment matches
  // any non-empty segment. (No std::regex here: GCC 12 at -O2 flags its
  // internals with -Wmaybe-uninitialized.)
  static bool MatchesRoute(std::string_view path, std::string_view pattern) {
    while (!path.empty() || !pattern.empty()) {
      if (path.empty() || pattern.empty() || path.front() != '/' || pattern.front() != '/') return false;
      path.remove_prefix(1);
      pattern.remove_prefix(1);
      size_t p_end = std::min(path.find('/'), path.size());
      size_t q_end = std::min(pattern.find('/'), pattern.size());
      std::string_view seg = path.substr(0, p_end);
      std::string_view want = pattern.substr(0, q_end);
      const bool param = want.size() >= 2 && want.front() == '{' && want.back() == '}';
      if (param ? seg.empty() : seg != want) return false;
      path.remove_prefix(p_end);
      pattern.remove_prefix(q_end);
    }
    return true;
  }

  static std::string AllowedMethods(const std::string& path) {
    std::string allow;
    for (const Route& r : kRoutes) {
      if (MatchesRoute(path, r.path)) {
        std::string m = r.method;
        if (allow.find(m) == std::string::npos) allow += (allow.empty() ? "" : ", ") + m;
        if (m == "GET" && allow.find("HEAD") == std::string::npos) allow += ", HEAD";
      }
    }
    return allow;
  }

  void OnLogged(const Request& req, const Response& res) {
    double seconds = 0;
    if (tl_request.started) {
      seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - tl_request.start).count();
    }
    const char* route = tl_request.route;
    tl_request = RequestContext{};
    metrics_.Add(kMetricRequests, {{"route", route}, {"method", req.method}, {"code", std::to_string(res.status)}});
    metrics_.Observe(kMetricDuration, {{"route", route}}, seconds);
    if (config_.access_log) {
      size_t bytes = res.body.empty() ? res.content_length_ : res.body.size();
      spdlog::info("{} \"{} {}\" {} {} {:.1f}ms", req.remote_addr, req.method, req.target, res.status, bytes,
                   seconds * 1000.0);
    }
  }

  const ApiConfig& config_;
  const ApiDeps& deps_;
  metrics::MetricsRegistry& metrics_;
  const pipeline::Layout& layout_;
  ProbeFn probe_;
  // Prefix directories (images/ab) whose entry in images/ this process has
  // fsynced (StoreOriginal).
  std::mutex synced_prefixes_mu_;
  std::set<std::string> synced_prefixes_;
};

ApiServer::ApiServer(ApiConfig config, ApiDeps deps)
    : config_(std::move(config)), deps_(std::move(deps)), layout_(config_.data_dir) {
  if (deps_.metrics == nullptr) {
    owned_metrics_ = std::make_unique<metrics::MetricsRegistry>();
    metrics_ = owned_metrics_.get();
  } else {
    metrics_ = deps_.metrics;
  }
}

ApiServer::~ApiServer() { Stop(); }

std::vector<std::string> ApiServer::Routes() {
  std::vector<std::string> out;
  for (const Route& r : kRoutes) out.push_back(std::string(r.method) + " " + r.path);
  return out;
}

bool ApiServer::running() const { return server_ != nullptr && server_->is_running(); }

namespace {

// Upload temp files of a crashed process. Other API processes may share the
// data dir, so only files too old to belong to a live upload go.
void RemoveStaleTempFiles(const fs::path& tmp_dir) {
  std::error_code ec;
  const auto cutoff = fs::file_time_type::clock::now() - std::chrono::hours(1);
  for (const auto& entry : fs::directory_iterator(tmp_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kUploadedTmpPrefix, 0) != 0) continue;
    std::error_code e2;
    if (entry.last_write_time(e2) < cutoff && !e2) fs::remove(entry.path(), e2);
  }
}

}  // namespace

Status ApiServer::Start() {
  if (server_ != nullptr) return FailedPreconditionError("already_started", "ApiServer::Start called twice");
  RETURN_IF_ERROR(config_.Validate());
  if (deps_.store == nullptr || deps_.publisher == nullptr) {
    return InvalidArgumentError("bad_config", "ApiServer needs a store and a publisher");
  }
  for (const char* sub : {"tmp", "images"}) {
    if (Status s = MakeDirs(config_.data_dir / sub); !s.ok()) {
      return InternalError("io_error", s.message());
    }
  }
  RemoveStaleTempFiles(config_.data_dir / "tmp");

  auto server = std::make_unique<httplib::Server>();
  const size_t threads = static_cast<size_t>(config_.threads);
  server->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  server->set_read_timeout(config_.read_timeout_s, 0);
  server->set_write_timeout(config_.write_timeout_s, 0);
  server->set_keep_alive_timeout(config_.keep_alive_timeout_s);
  server->set_keep_alive_max_count(20);
  // Checked against Content-Length before the body is read. Chunked bodies
  // are not covered by it in 0.11; UploadSink counts those.
  // cpp-httplib's default also sets SO_REUSEPORT, which would let a second
  // instance bind the same port and silently share its traffic; an operator
  // wants "address in use" instead.
  server->set_socket_options([](socket_t sock) {
    int yes = 1;
    ::setsockopt(sock, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes);
  });
  server->set_payload_max_length(static_cast<size_t>(config_.max_body_bytes()));
  handlers_ = std::make_unique<Handlers>(config_, deps_, *metrics_, layout_);
  handlers_->Register(*server);

  int bound = 0;
  if (config_.port == 0) {
    bound = server->bind_to_any_port(config_.host);
    if (bound <= 0) bound = 0;
  } else if (server->bind_to_port(config_.host, config_.port)) {
    bound = config_.port;
  }
  if (bound == 0) {
    handlers_.reset();
    return UnavailableError("bind_failed", "cannot listen on " + config_.host + ":" + std::to_string(config_.port));
  }
  port_ = bound;
  server_ = std::move(server);
  listener_done_ = false;
  listener_ = std::thread([this, srv = server_.get()] {
    if (!srv->listen_after_bind()) spdlog::error("api: the accept loop ended with an error");
    listener_done_ = true;
  });
  // 0.11 has no wait_until_ready(): the socket already accepts (bound and
  // listening), so this only waits for the accept loop to be entered.
  for (int i = 0; i < 500 && !server_->is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  spdlog::info("api listening on {}:{} (data dir {}, max image {} bytes, {} threads)", config_.host, bound,
               config_.data_dir.string(), config_.limits.max_bytes, config_.threads);
  return Status::Ok();
}

void ApiServer::Stop() {
  if (server_ == nullptr) return;
  // Closes the listening socket; listen_after_bind() then shuts the pool
  // down, which joins every worker after its current request is answered.
  // stop() is a no-op until the accept loop runs; wait for it (or its end).
  for (int i = 0; i < 2500 && !server_->is_running() && !listener_done_; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  server_->stop();
  if (listener_.joinable()) listener_.join();
  server_.reset();
  handlers_.reset();
}

}  // namespace photo::http
