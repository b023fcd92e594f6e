#include "photo/storage/s3/s3_blob_store.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <random>
#include <thread>

#include "photo/core/text.h"
#include "photo/storage/s3/s3_xml.h"
#include "photo/storage/s3/sigv4.h"

namespace photo::storage {
namespace {

constexpr std::size_t kMaxErrorBody = 64 * 1024;

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// Objects are stored with the type their name says, so that a presigned URL
// (served by the S3 server itself) answers with the right Content-Type.
const char* ContentTypeFor(std::string_view key) {
  auto ends = [&](std::string_view ext) { return key.ends_with(ext); };
  if (ends(".jpg") || ends(".jpeg")) return "image/jpeg";
  if (ends(".webp")) return "image/webp";
  if (ends(".avif")) return "image/avif";
  if (ends(".png")) return "image/png";
  return "application/octet-stream";
}

void Backoff(const S3Config& c, int attempt) {
  thread_local std::mt19937 rng{std::random_device{}()};
  const double base = std::min(5000.0, c.backoff_ms * static_cast<double>(1u << std::min(attempt - 1, 16)));
  std::uniform_real_distribution<double> jitter(0.5, 1.5);
  std::this_thread::sleep_for(std::chrono::microseconds(static_cast<long long>(base * jitter(rng) * 1000)));
}

// Base64 Content-MD5 of a file's bytes, read in chunks.
Result<std::string> FileMd5(int fd, std::uint64_t size, const std::string& name) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  EVP_DigestInit_ex(ctx.get(), EVP_md5(), nullptr);
  thread_local std::array<char, 256 * 1024> buf;
  std::uint64_t pos = 0;
  while (pos < size) {
    const ssize_t n = ::pread(fd, buf.data(), buf.size(), static_cast<off_t>(pos));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return UnavailableError("io_error", "read " + name);
    EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<std::size_t>(n));
    pos += static_cast<std::uint64_t>(n);
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  unsigned char out[32];
  const int b64 = EVP_EncodeBlock(out, md, static_cast<int>(len));
  return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(b64));
}

}  // namespace

// What to send: memory, or a region of an open file, re-read from the start
// on every attempt.
struct S3BlobStore::Request {
  std::string method = "GET";
  std::string path;   // URI-encoded
  std::string query;  // URI-encoded, parameters in name order (libcurl signs it as given)
  std::vector<std::string> headers;
  bool has_body = false;
  std::string_view body;
  int body_fd = -1;
  std::uint64_t body_offset = 0;
  std::uint64_t body_size = 0;
  std::uint64_t sent = 0;
  // GET: the response body goes to `sink` (2xx answers only); a retried GET
  // asks for the bytes after `delivered`, If-Match the first answer's ETag.
  const Sink* sink = nullptr;
  std::optional<ByteRange> range;
  std::uint64_t delivered = 0;
  std::string if_match;
  Status sink_status;
};

struct S3BlobStore::Response {
  long code = 0;
  CURLcode curl = CURLE_OK;
  std::string curl_error;
  std::string body;  // error or XML answers
  std::string etag;
  std::uint64_t content_length = 0;
};

class S3BlobStore::Curl {
 public:
  Curl() : h_(curl_easy_init()) {}
  ~Curl() { curl_easy_cleanup(h_); }
  CURL* get() { return h_; }

 private:
  CURL* h_;
};

S3BlobStore::S3BlobStore(S3Config config) : config_(std::move(config)) {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

S3BlobStore::~S3BlobStore() = default;

std::unique_ptr<S3BlobStore::Curl> S3BlobStore::Acquire() {
  {
    std::lock_guard<std::mutex> lock(pool_mu_);
    if (!pool_.empty()) {
      auto c = std::move(pool_.back());
      pool_.pop_back();
      return c;
    }
  }
  return std::make_unique<Curl>();
}

void S3BlobStore::Release(std::unique_ptr<Curl> c) {
  std::lock_guard<std::mutex> lock(pool_mu_);
  if (pool_.size() < 128) pool_.push_back(std::move(c));
}

std::string S3BlobStore::ObjectPath(const std::string& key) const {
  return "/" + config_.bucket + "/" + UriEncode(config_.prefix + key, /*keep_slash=*/true);
}

std::string S3BlobStore::Describe() const {
  return "s3://" + config_.bucket + "/" + config_.prefix + " at " + config_.endpoint;
}

namespace {

struct CallbackState {
  S3BlobStore::Request* req;
  S3BlobStore::Response* resp;
  CURL* h;
};

size_t ReadBody(char* buf, size_t size, size_t n, void* user) {
  auto* req = static_cast<S3BlobStore::Request*>(user);
  const std::uint64_t left = req->body_size - req->sent;
  const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(left, size * n));
  if (want == 0) return 0;
  if (req->body_fd >= 0) {
    ssize_t got;
    do {
      got = ::pread(req->body_fd, buf, want, static_cast<off_t>(req->body_offset + req->sent));
    } while (got < 0 && errno == EINTR);
    if (got <= 0) return CURL_READFUNC_ABORT;
    req->sent += static_cast<std::uint64_t>(got);
    return static_cast<size_t>(got);
  }
  std::memcpy(buf, req->body.data() + req->sent, want);
  req->sent += want;
  return want;
}

int SeekBody(void* user, curl_off_t offset, int origin) {
  auto* req = static_cast<S3BlobStore::Request*>(user);
  if (origin != SEEK_SET || offset < 0 || static_cast<std::uint64_t>(offset) > req->body_size)
    return CURL_SEEKFUNC_FAIL;
  req->sent = static_cast<std::uint64_t>(offset);
  return CURL_SEEKFUNC_OK;
}

size_t WriteBody(char* data, size_t size, size_t n, void* user) {
  auto* st = static_cast<CallbackState*>(user);
  const size_t len = size * n;
  long code = 0;
  curl_easy_getinfo(st->h, CURLINFO_RESPONSE_CODE, &code);
  if (st->req->sink != nullptr && (code == 200 || code == 206)) {
    Status s = (*st->req->sink)(std::string_view(data, len));
    if (!s.ok()) {
      st->req->sink_status = std::move(s);
      return 0;  // aborts the transfer
    }
    st->req->delivered += len;
    return len;
  }
  if (st->resp->body.size() < kMaxErrorBody) st->resp->body.append(data, len);
  return len;
}

size_t ReadHeader(char* data, size_t size, size_t n, void* user) {
  auto* st = static_cast<CallbackState*>(user);
  std::string_view line(data, size * n);
  const auto colon = line.find(':');
  if (colon != std::string_view::npos) {
    std::string name(line.substr(0, colon));
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    std::string_view value = line.substr(colon + 1);
    while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
    while (!value.empty() && (value.back() == '\r' || value.back() == '\n' || value.back() == ' '))
      value.remove_suffix(1);
    if (name == "etag") st->resp->etag = std::string(value);
  }
  return size * n;
}

bool Transient(const S3BlobStore::Response& r) {
  if (r.curl != CURLE_OK) {
    return r.curl != CURLE_URL_MALFORMAT && r.curl != CURLE_UNSUPPORTED_PROTOCOL &&
           r.curl != CURLE_COULDNT_RESOLVE_HOST && r.curl != CURLE_WRITE_ERROR;
  }
  if (r.code >= 500 || r.code == 429) return true;
  if (r.code == 400) {
    // A body damaged on the way (BadDigest) or a slow client: send again.
    auto e = ParseS3Error(r.body);
    return e && (e->code == "BadDigest" || e->code == "RequestTimeout" ||
                 e->code == "IncompleteBody");
  }
  return false;
}

std::string Explain(const S3BlobStore::Response& r) {
  if (r.curl != CURLE_OK)
    return std::string(curl_easy_strerror(r.curl)) + (r.curl_error.empty() ? "" : " (" + r.curl_error + ")");
  std::string s = "HTTP " + std::to_string(r.code);
  if (auto e = ParseS3Error(r.body)) s += " " + e->code + (e->message.empty() ? "" : ": " + e->message);
  return s;
}

}  // namespace

S3BlobStore::Response S3BlobStore::Attempt(Curl& curl, Request& req) {
  Response resp;
  CURL* h = curl.get();
  curl_easy_reset(h);
  CallbackState st{&req, &resp, h};
  const std::string url =
      config_.endpoint + req.path + (req.query.empty() ? "" : "?" + req.query);
  const std::string sigv4 = "aws:amz:" + config_.region + ":s3";
  char errbuf[CURL_ERROR_SIZE] = {0};
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4.c_str());
  curl_easy_setopt(h, CURLOPT_USERNAME, config_.access_key.c_str());
  curl_easy_setopt(h, CURLOPT_PASSWORD, config_.secret_key.c_str());
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, static_cast<long>(config_.timeout_ms));
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(config_.connect_timeout_ms));
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, &WriteBody);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, &st);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, &ReadHeader);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, &st);
  curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 256L * 1024);

  curl_slist* headers = nullptr;
  // The gateway (and S3 itself) wants the payload hash header on every
  // signed request; the body's integrity is Content-MD5's job.
  headers = curl_slist_append(headers, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
  // No "Expect:" override to skip 100-continue: libcurl 7.88 signs the empty
  // header it then does not send, and every request fails its signature.
  if (!config_.session_token.empty())
    headers = curl_slist_append(headers, ("x-amz-security-token: " + config_.session_token).c_str());
  for (const std::string& hd : req.headers) headers = curl_slist_append(headers, hd.c_str());
  if (req.sink != nullptr && (req.range || req.delivered > 0)) {
    const std::uint64_t first = (req.range ? req.range->first : 0) + req.delivered;
    std::string r = "Range: bytes=" + std::to_string(first) + "-";
    if (req.range && req.range->last) r += std::to_string(*req.range->last);
    headers = curl_slist_append(headers, r.c_str());
  }
  if (!req.if_match.empty()) headers = curl_slist_append(headers, ("If-Match: " + req.if_match).c_str());
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);

  req.sent = 0;
  if (req.method == "HEAD") {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (req.method == "PUT" || req.method == "POST") {
    const bool put = req.method == "PUT";
    curl_easy_setopt(h, put ? CURLOPT_UPLOAD : CURLOPT_POST, 1L);
    curl_easy_setopt(h, put ? CURLOPT_INFILESIZE_LARGE : CURLOPT_POSTFIELDSIZE_LARGE,
                     static_cast<curl_off_t>(req.body_size));
    curl_easy_setopt(h, CURLOPT_READFUNCTION, &ReadBody);
    curl_easy_setopt(h, CURLOPT_READDATA, &req);
    curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, &SeekBody);
    curl_easy_setopt(h, CURLOPT_SEEKDATA, &req);
  } else if (req.method != "GET") {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req.method.c_str());
  }

  resp.curl = curl_easy_perform(h);
  if (resp.curl != CURLE_OK) resp.curl_error = errbuf;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp.code);
  curl_off_t len = -1;
  curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
  if (len > 0) resp.content_length = static_cast<std::uint64_t>(len);
  curl_slist_free_all(headers);
  return resp;
}

Result<S3BlobStore::Response> S3BlobStore::Send(Request& req, std::string_view what) {
  auto curl = Acquire();
  Response r;
  for (int attempt = 1;; ++attempt) {
    r = Attempt(*curl, req);
    if (!req.sink_status.ok()) {
      Release(std::move(curl));
      return req.sink_status;
    }
    // A GET that got part of the body resumes after it, from the same object.
    if (req.sink != nullptr && req.if_match.empty() && !r.etag.empty() && (r.code == 200 || r.code == 206))
      req.if_match = r.etag;
    if (!Transient(r) || attempt >= config_.attempts) break;
    Backoff(config_, attempt);
  }
  Release(std::move(curl));
  if (Transient(r)) {
    return UnavailableError("s3_unavailable", std::string(what) + " at " + config_.endpoint +
                                                  ": " + Explain(r) + " (after " +
                                                  std::to_string(config_.attempts) + " attempts)");
  }
  if (r.curl != CURLE_OK) {
    return InvalidArgumentError("bad_setting", std::string(what) + ": PHOTO_PIPELINE_S3_ENDPOINT " +
                                                   config_.endpoint + ": " + Explain(r));
  }
  return r;
}

namespace {

// The error for an answer that is neither success nor retryable.
Status FromAnswer(const S3BlobStore::Response& r, std::string_view what, const S3Config& c) {
  const std::string where = std::string(what);
  const auto e = ParseS3Error(r.body);
  if (r.code == 404) {
    if (e && e->code == "NoSuchBucket")
      return FailedPreconditionError("bad_setting", "PHOTO_PIPELINE_STORAGE: bucket '" + c.bucket +
                                                        "' does not exist at " + c.endpoint);
    return NotFoundError("not_found", where + ": no such object");
  }
  if (r.code == 403 || r.code == 401)
    return UnavailableError("s3_forbidden",
                            where + ": " + Explain(r) +
                                " (check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
                                "AWS_SESSION_TOKEN and PHOTO_PIPELINE_S3_REGION)");
  if (r.code == 412) return UnavailableError("object_changed", where + ": the object changed while it was read");
  if (r.code == 416) return InvalidArgumentError("range_not_satisfiable", where + ": " + Explain(r));
  return InternalError("s3_refused", where + ": " + Explain(r));
}

}  // namespace

Status S3BlobStore::PutBody(const std::string& key, Request& req, std::string_view what) {
  req.method = "PUT";
  req.path = ObjectPath(key);
  req.has_body = true;
  req.headers.push_back(std::string("Content-Type: ") + ContentTypeFor(key));
  ASSIGN_OR_RETURN(Response r, Send(req, what));
  if (r.code != 200) return FromAnswer(r, what, config_);
  return Status::Ok();
}

Status S3BlobStore::Put(const std::string& key, std::string_view bytes) {
  RETURN_IF_ERROR(ValidateKey(key));
  if (bytes.size() >= config_.multipart_threshold) {
    return PutMultipart(key, bytes.size(), [&](std::uint64_t off, std::uint64_t len, std::string* out) {
      out->assign(bytes.substr(off, len));
      return Status::Ok();
    });
  }
  return PutWithContentMd5ForTest(key, bytes, Base64Md5(bytes));
}

Status S3BlobStore::PutWithContentMd5ForTest(const std::string& key, std::string_view bytes,
                                             const std::string& content_md5) {
  RETURN_IF_ERROR(ValidateKey(key));
  Request req;
  req.body = bytes;
  req.body_size = bytes.size();
  req.headers.push_back("Content-MD5: " + content_md5);
  return PutBody(key, req, "PUT " + key);
}

Status S3BlobStore::PutFile(const std::string& key, const std::filesystem::path& file) {
  RETURN_IF_ERROR(ValidateKey(key));
  Fd f{::open(file.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) {
    return errno == ENOENT ? NotFoundError("not_found", "open " + file.string())
                           : UnavailableError("io_error", "open " + file.string() + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) return UnavailableError("io_error", "stat " + file.string());
  const auto size = static_cast<std::uint64_t>(st.st_size);
  if (size >= config_.multipart_threshold) {
    return PutMultipart(key, size, [&](std::uint64_t off, std::uint64_t len, std::string* out) {
      out->resize(len);
      std::uint64_t got = 0;
      while (got < len) {
        const ssize_t n = ::pread(f.fd, out->data() + got, len - got, static_cast<off_t>(off + got));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return UnavailableError("io_error", "read " + file.string());
        got += static_cast<std::uint64_t>(n);
      }
      return Status::Ok();
    });
  }
  ASSIGN_OR_RETURN(std::string md5, FileMd5(f.fd, size, file.string()));
  Request req;
  req.body_fd = f.fd;
  req.body_size = size;
  req.headers.push_back("Content-MD5: " + md5);
  return PutBody(key, req, "PUT " + key);
}

Status S3BlobStore::PutMultipart(
    const std::string& key, std::uint64_t size,
    const std::function<Status(std::uint64_t, std::uint64_t, std::string*)>& read) {
  const std::string what = "multipart PUT " + key;
  const std::string path = ObjectPath(key);
  Request init;
  init.method = "POST";
  init.path = path;
  init.query = "uploads=";
  init.headers.push_back(std::string("Content-Type: ") + ContentTypeFor(key));
  ASSIGN_OR_RETURN(Response started, Send(init, what));
  if (started.code != 200) return FromAnswer(started, what, config_);
  const auto upload_id = FirstXmlText(started.body, "UploadId");
  if (!upload_id || upload_id->empty())
    return InternalError("s3_bad_answer", what + ": no UploadId in the answer");
  const std::string id_query = "uploadId=" + UriEncode(*upload_id, false);

  auto fail = [&](Status s) {
    // Parts already stored cost space until aborted; best effort.
    Request abort;
    abort.method = "DELETE";
    abort.path = path;
    abort.query = id_query;
    (void)Send(abort, what + " (abort)");
    return s;
  };

  std::string complete = "<CompleteMultipartUpload>";
  std::string part;
  int number = 0;
  for (std::uint64_t off = 0; off < size; off += config_.part_size) {
    ++number;
    const std::uint64_t len = std::min(config_.part_size, size - off);
    if (Status s = read(off, len, &part); !s.ok()) return fail(s);
    Request put;
    put.method = "PUT";
    put.path = path;
    put.query = "partNumber=" + std::to_string(number) + "&" + id_query;
    put.body = part;
    put.body_size = part.size();
    put.headers.push_back("Content-MD5: " + Base64Md5(part));
    auto r = Send(put, what + " part " + std::to_string(number));
    if (!r) return fail(r.error());
    if (r->code != 200) return fail(FromAnswer(*r, what, config_));
    complete += "<Part><PartNumber>" + std::to_string(number) + "</PartNumber><ETag>" +
                EscapeXml(r->etag) + "</ETag></Part>";
  }
  complete += "</CompleteMultipartUpload>";

  Request done;
  done.method = "POST";
  done.path = path;
  done.query = id_query;
  done.body = complete;
  done.body_size = complete.size();
  done.headers.push_back("Content-Type: application/xml");
  auto r = Send(done, what + " (complete)");
  if (!r) return fail(r.error());
  // S3 may answer 200 and still report an error in the body.
  if (r->code != 200 || ParseS3Error(r->body)) return fail(FromAnswer(*r, what, config_));
  return Status::Ok();
}

Status S3BlobStore::Get(const std::string& key, const Sink& sink, std::optional<ByteRange> range) {
  RETURN_IF_ERROR(ValidateKey(key));
  Request req;
  req.path = ObjectPath(key);
  req.sink = &sink;
  req.range = range;
  ASSIGN_OR_RETURN(Response r, Send(req, "GET " + key));
  if (r.code != 200 && r.code != 206) return FromAnswer(r, "GET " + key, config_);
  return Status::Ok();
}

Result<BlobInfo> S3BlobStore::Head(const std::string& key) {
  RETURN_IF_ERROR(ValidateKey(key));
  Request req;
  req.method = "HEAD";
  req.path = ObjectPath(key);
  ASSIGN_OR_RETURN(Response r, Send(req, "HEAD " + key));
  if (r.code != 200) return FromAnswer(r, "HEAD " + key, config_);
  return BlobInfo{r.content_length, r.etag};
}

Status S3BlobStore::Delete(const std::string& key) {
  RETURN_IF_ERROR(ValidateKey(key));
  Request req;
  req.method = "DELETE";
  req.path = ObjectPath(key);
  ASSIGN_OR_RETURN(Response r, Send(req, "DELETE " + key));
  if (r.code == 204 || r.code == 200 || r.code == 404) return Status::Ok();
  return FromAnswer(r, "DELETE " + key, config_);
}

Result<std::vector<ListEntry>> S3BlobStore::List(const std::string& prefix) {
  std::vector<ListEntry> out;
  std::string token;
  const std::string full = config_.prefix + prefix;
  do {
    Request req;
    req.path = "/" + config_.bucket;
    req.query = (token.empty() ? "" : "continuation-token=" + UriEncode(token, false) + "&") +
                "list-type=2&prefix=" + UriEncode(full, false);
    ASSIGN_OR_RETURN(Response r, Send(req, "LIST " + full));
    if (r.code != 200) return FromAnswer(r, "LIST " + full, config_);
    ASSIGN_OR_RETURN(ListPage page, ParseListObjectsV2(r.body));
    for (ListEntry& e : page.entries) {
      if (!e.key.starts_with(config_.prefix)) continue;
      e.key.erase(0, config_.prefix.size());
      out.push_back(std::move(e));
    }
    token = page.next_token;
  } while (!token.empty());
  return out;
}

Status S3BlobStore::Check() {
  Request head;
  head.method = "HEAD";
  head.path = "/" + config_.bucket;
  auto r = Send(head, "HEAD bucket");
  if (!r) {
    return Status(r.error().code(), r.error().reason(),
                  "PHOTO_PIPELINE_S3_ENDPOINT " + config_.endpoint +
                      " does not answer as an S3 server: " + r.error().message());
  }
  if (r->code == 404)
    return FailedPreconditionError("bad_setting", "PHOTO_PIPELINE_STORAGE: bucket '" + config_.bucket +
                                                      "' does not exist at " + config_.endpoint);
  if (r->code == 403 || r->code == 401)
    return FailedPreconditionError(
        "bad_setting", "the S3 server at " + config_.endpoint + " refused the credentials for bucket '" +
                           config_.bucket + "' (HTTP " + std::to_string(r->code) +
                           "): check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN "
                           "and PHOTO_PIPELINE_S3_REGION");
  if (r->code != 200)
    return FailedPreconditionError("bad_setting", "PHOTO_PIPELINE_S3_ENDPOINT " + config_.endpoint +
                                                      ": HEAD bucket answered " + Explain(*r));
  // Reading a bucket does not prove the right to write to it.
  char host[64] = {0};
  ::gethostname(host, sizeof host - 1);
  std::string probe = "photo-pipeline-check/";
  for (const char* p = host; *p != '\0'; ++p)
    probe += std::isalnum(static_cast<unsigned char>(*p)) ? *p : '-';
  probe += "-" + std::to_string(::getpid());
  if (Status s = Put(probe, "ok"); !s.ok())
    return FailedPreconditionError("bad_setting", "cannot write to bucket '" + config_.bucket +
                                                      "' (AWS_ACCESS_KEY_ID may lack the right): " +
                                                      s.message());
  return Delete(probe);
}

Result<std::string> S3BlobStore::PresignGet(const std::string& key, int ttl_seconds) {
  RETURN_IF_ERROR(ValidateKey(key));
  if (ttl_seconds < 1 || ttl_seconds > 604800)
    return InvalidArgumentError("bad_setting", "a presigned URL lives 1 s to 7 days");
  PresignRequest p;
  p.endpoint = config_.endpoint;
  p.path = ObjectPath(key);
  p.region = config_.region;
  p.access_key = config_.access_key;
  p.secret_key = config_.secret_key;
  p.session_token = config_.session_token;
  p.now_unix = static_cast<std::int64_t>(std::time(nullptr));
  p.expires_seconds = ttl_seconds;
  return PresignGetUrl(p);
}

}  // namespace photo::storage
