#include "photo/http/server.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <atomic>
#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <limits>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <vector>

#include "photo/http/auth.h"
#include "photo/http/metrics.h"
#include "photo/http/rate_limit.h"
#include "photo/http/responses.h"

namespace photo::http {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kBodyBufferSize = 64 * 1024;
constexpr size_t kMaxTargetBytes = 8 * 1024;
constexpr size_t kStreamQueueLimit = 1024 * 1024;
// After an answer with "Connection: close" the server reads (and drops) what
// the client still sends for this long, so the client reads the answer
// instead of a reset (a refused upload is usually still sending its body).
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr size_t kLingerBytes = 4 * 1024 * 1024;

constexpr char kMetricConnections[] = "photo_http_connections";
constexpr char kMetricRefused[] = "photo_http_connections_refused_total";
constexpr char kMetricTimeouts[] = "photo_http_timeouts_total";
constexpr char kMetricHeadTooLarge[] = "photo_http_head_too_large_total";
constexpr char kMetricRateLimited[] = "photo_http_rate_limited_total";

std::string StatusLine(int status) {
  const auto r = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  std::string_view reason(r.data(), r.size());
  if (reason.empty() || reason == "<unknown-status>") reason = "Unknown";
  return "HTTP/1.1 " + std::to_string(status) + " " + std::string(reason) + "\r\n";
}

// Header values the server sets on every answer unless the handler did.
void AddDefaultHeaders(Headers& h) {
  if (!h.Has("X-Content-Type-Options")) h.Add("X-Content-Type-Options", "nosniff");
  if (!h.Has("X-Frame-Options")) h.Add("X-Frame-Options", "DENY");
  if (!h.Has("Referrer-Policy")) h.Add("Referrer-Policy", "no-referrer");
  if (!h.Has("Content-Security-Policy")) h.Add("Content-Security-Policy", "frame-ancestors 'none'");
}

bool HeaderValueOk(std::string_view v) {
  for (char c : v) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

bool ListHasToken(std::string_view list, std::string_view token) {
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) item.remove_suffix(1);
    if (EqualsIgnoreCase(item, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

class HttpServer::Impl : public std::enable_shared_from_this<HttpServer::Impl> {
 public:
  class Session;
  class Stream;

  Impl(ServerOptions o, const Router* router, RequestObserver observer, metrics::MetricsRegistry* m)
      : opt_(std::move(o)),
        router_(router),
        observer_(std::move(observer)),
        metrics_(m),
        ioc_(opt_.io_threads),
        acceptor_(net::make_strand(ioc_)),
        retry_timer_(acceptor_.get_executor()),
        pool_(static_cast<size_t>(opt_.worker_threads)),
        client_rate_(opt_.rate_per_client, opt_.burst_per_client),
        token_rate_(opt_.rate_per_token, opt_.burst_per_token) {
    if (metrics_ != nullptr) {
      metrics_->DeclareGauge(kMetricConnections, "HTTP connections open now.");
      metrics_->DeclareCounter(kMetricRefused,
                               "Connections refused at accept, by reason (per_client_cap, max_connections).");
      metrics_->DeclareCounter(kMetricTimeouts,
                               "Connections closed for a deadline, by phase (head, body_rate, body_stall, idle).");
      metrics_->DeclareCounter(kMetricHeadTooLarge, "Requests answered 431 (head over the size limit).");
      metrics_->DeclareCounter(kMetricRateLimited, "Requests answered 429 by a rate limit, by scope (address, token).");
    }
  }

  Status Start();
  void Stop();

  // Called from sessions (any thread).
  void Count(const char* metric, const char* label, const char* value) {
    if (metrics_ != nullptr) metrics_->Add(metric, {{label, value}});
  }
  void SessionGone(const std::string& client, Session* session) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      sessions_.erase(session);
      if (auto it = per_client_.find(client); it != per_client_.end() && --it->second <= 0) {
        per_client_.erase(it);
      }
      --open_;
    }
    if (metrics_ != nullptr) metrics_->Add(kMetricConnections, {}, -1);
    cv_.notify_all();
  }

  void DoAccept();
  void OnAccept(beast::error_code ec, tcp::socket socket);
  static void Refuse(tcp::socket& socket, int status, std::string_view code, std::string_view message,
                     int retry_after_s);

  ServerOptions opt_;
  const Router* router_;
  RequestObserver observer_;
  metrics::MetricsRegistry* metrics_;
  net::io_context ioc_;
  tcp::acceptor acceptor_;
  net::steady_timer retry_timer_;
  net::thread_pool pool_;
  RateLimiter client_rate_;
  RateLimiter token_rate_;
  std::vector<std::thread> io_threads_;
  // Keeps the I/O threads running while a request waits on the pool (no
  // socket operation pending then); released in Stop().
  std::optional<net::executor_work_guard<net::io_context::executor_type>> work_;
  std::atomic<int> port_{0};
  std::atomic<int> io_running_{0};
  std::atomic<bool> running_{false};
  std::atomic<bool> stopping_{false};
  bool started_ = false;

  std::mutex mu_;
  std::condition_variable cv_;
  int open_ = 0;
  std::unordered_map<std::string, int> per_client_;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;
};

// One connection: reads requests one after the other, hands each to its
// route, writes the answer. All of it runs on the connection's strand;
// BodyReader calls and blocking handlers hop to the pool and back.
class HttpServer::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<Impl> srv, tcp::socket socket, std::string remote)
      : srv_(std::move(srv)),
        stream_(std::move(socket)),
        // The head limit is the parser's (header_limit); the buffer may hold
        // more so a body is read in pieces of up to 64 KiB. It grows only
        // as bytes arrive and shrinks again when the connection idles.
        buffer_(static_cast<size_t>(srv_->opt_.max_header_bytes) + kBodyBufferSize),
        remote_(std::move(remote)) {}

  ~Session() { srv_->SessionGone(remote_, this); }

  void Start() { ReadHead(); }
  net::any_io_executor Executor() { return stream_.get_executor(); }

  // Posted by Impl::Stop.
  void OnServerStop() {
    spdlog::debug("http: stop reaches a connection in phase {}", static_cast<int>(phase_));
    stopping_ = true;
    if (phase_ == Phase::kIdle || phase_ == Phase::kHead || phase_ == Phase::kClosing) {
      CloseNow();
    } else if (phase_ == Phase::kStreaming) {
      EndStream(true);
    }
  }

  // --- streaming (Stream calls these on the strand) ---
  void StreamWrite(std::string chunk);
  void EndStream(bool abort);

 private:
  enum class Phase { kIdle, kHead, kBody, kHandling, kWriting, kStreaming, kClosing };

  const ServerOptions& opt() const { return srv_->opt_; }

  void ReadHead();
  void WaitIdle();
  void DoReadHeader();
  void OnHead(beast::error_code ec);
  void OnRequest();
  void ReadBody();
  void OnBody(beast::error_code ec);
  void Dispatch();
  void FinishBody(Status body_status);
  void Reply(Response res);
  void WriteFile(std::shared_ptr<FileBody> file, std::uint64_t done);
  void AfterWrite(beast::error_code ec);
  void Observe();
  void GracefulClose();
  void Linger();
  void CloseNow() {
    beast::error_code ec;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ec);
    stream_.socket().close(ec);
  }
  void WatchStreamPeer();
  void PumpStream();
  Response Invoke();
  // The request's Origin when CORS allows it ("*" when every origin is), else
  // null.
  const std::string* CorsOrigin() {
    const auto& allowed = opt().cors_origins;
    if (allowed.empty()) return nullptr;
    std::string_view origin = req_.headers.Get("Origin");
    if (origin.empty()) return nullptr;
    for (const std::string& o : allowed) {
      if (o == "*" || o == origin) {
        cors_origin_ = o == "*" ? "*" : std::string(origin);
        return &cors_origin_;
      }
    }
    return nullptr;
  }
  Response Error(int status, std::string_view code, std::string_view message) {
    Response r = ErrorResponse(status, code, message);
    return r;
  }

  std::shared_ptr<Impl> srv_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  std::optional<bhttp::request_parser<bhttp::buffer_body>> parser_;
  std::string remote_;
  Phase phase_ = Phase::kIdle;
  bool first_ = true;
  bool stopping_ = false;
  bool keep_alive_ = false;
  bool head_only_ = false;

  Request req_;
  const Route* route_ = nullptr;
  std::string metric_route_;
  std::string cors_origin_;
  std::unique_ptr<BodyReader> reader_;
  std::vector<char> body_buf_;
  std::uint64_t body_bytes_ = 0;
  std::uint64_t max_body_ = 0;
  Clock::time_point req_start_;
  Clock::time_point body_start_;

  int res_status_ = 0;
  std::uint64_t res_bytes_ = 0;
  std::string out_;  // the head (and small body) being written
  std::string file_chunk_;

  std::shared_ptr<Stream> stream_obj_;
  std::deque<std::string> stream_queue_;
  bool stream_writing_ = false;
  bool stream_ending_ = false;
  // Allocated only while a stream is open / while lingering: an idle
  // connection must stay small (thousands of them are the point).
  std::vector<char> watch_buf_;
  std::vector<char> linger_buf_;
  size_t lingered_ = 0;
};

// ResponseStream over a Session: every call hops onto the session's strand.
class HttpServer::Impl::Stream : public ResponseStream, public std::enable_shared_from_this<Stream> {
 public:
  Stream(std::weak_ptr<Session> s, net::any_io_executor ex) : session_(std::move(s)), ex_(std::move(ex)) {}

  bool Write(std::string data) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (closed_) return false;
      queued_ += data.size();
      if (queued_ > kStreamQueueLimit) {
        spdlog::info("http: stream to a slow client closed ({} bytes waiting)", queued_);
        closed_ = true;
      }
    }
    if (IsClosed()) {
      Abort();
      return false;
    }
    net::post(ex_, [w = session_, d = std::move(data)]() mutable {
      if (auto s = w.lock()) s->StreamWrite(std::move(d));
    });
    return true;
  }
  void End() override {
    net::post(ex_, [w = session_] {
      if (auto s = w.lock()) s->EndStream(false);
    });
  }
  bool closed() const override { return IsClosed(); }
  void OnClose(std::function<void()> cb) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!fired_) {
        callbacks_.push_back(std::move(cb));
        return;
      }
    }
    cb();
  }

  // From the session (strand).
  void Sent(size_t n) {
    std::lock_guard<std::mutex> lock(mu_);
    queued_ -= std::min(queued_, n);
  }
  void MarkClosed() {
    std::vector<std::function<void()>> cbs;
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
      if (fired_) return;
      fired_ = true;
      cbs.swap(callbacks_);
    }
    for (auto& cb : cbs) cb();
  }

 private:
  bool IsClosed() const {
    std::lock_guard<std::mutex> lock(mu_);
    return closed_;
  }
  void Abort() {
    net::post(ex_, [w = session_] {
      if (auto s = w.lock()) s->EndStream(true);
    });
  }

  std::weak_ptr<Session> session_;
  net::any_io_executor ex_;
  mutable std::mutex mu_;
  bool closed_ = false;
  bool fired_ = false;
  size_t queued_ = 0;
  std::vector<std::function<void()>> callbacks_;
};

// --- reading the head -------------------------------------------------------

void HttpServer::Impl::Session::ReadHead() {
  phase_ = Phase::kIdle;
  if (stopping_) return GracefulClose();
  req_ = Request{};
  route_ = nullptr;
  reader_.reset();
  metric_route_ = "unmatched";
  body_bytes_ = 0;
  res_status_ = 0;
  res_bytes_ = 0;
  parser_.emplace();
  parser_->header_limit(static_cast<std::uint32_t>(opt().max_header_bytes));
  // The route's limit is checked here, not by Beast. (Not boost::none:
  // Boost 1.74 compares Content-Length against an empty optional as "over".)
  parser_->body_limit(std::numeric_limits<std::uint64_t>::max());
  if (!first_ && buffer_.size() == 0) return WaitIdle();
  DoReadHeader();
}

// Between requests on a keep-alive connection: wait for the next request's
// first byte with the idle timeout; the head deadline starts with it.
void HttpServer::Impl::Session::WaitIdle() {
  if (opt().keep_alive_timeout_s <= 0) return GracefulClose();
  buffer_.shrink_to_fit();  // an idle connection keeps no big buffer
  body_buf_ = {};
  out_ = {};
  file_chunk_ = {};
  stream_.expires_after(std::chrono::seconds(opt().keep_alive_timeout_s));
  stream_.async_read_some(buffer_.prepare(512),
                          [self = shared_from_this()](beast::error_code ec, size_t n) {
                            self->buffer_.commit(n);
                            if (ec) {
                              if (ec == beast::error::timeout) self->srv_->Count(kMetricTimeouts, "phase", "idle");
                              return self->CloseNow();
                            }
                            if (self->stopping_) return self->GracefulClose();
                            self->DoReadHeader();
                          });
}

void HttpServer::Impl::Session::DoReadHeader() {
  phase_ = Phase::kHead;
  req_start_ = Clock::now();
  stream_.expires_after(std::chrono::seconds(opt().head_timeout_s));
  bhttp::async_read_header(stream_, buffer_, *parser_,
                           [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHead(ec); });
}

void HttpServer::Impl::Session::OnHead(beast::error_code ec) {
  if (ec) {
    if (ec == bhttp::error::header_limit || ec == bhttp::error::buffer_overflow) {
      srv_->Count(kMetricHeadTooLarge, "reason", "head");
      return Reply(Error(431, "header_too_large",
                         "the request head exceeds " + std::to_string(opt().max_header_bytes) + " bytes"));
    }
    if (ec == beast::error::timeout) {
      // tcp_stream has closed the socket already: no 408 possible (nginx
      // does the same for a client_header_timeout).
      srv_->Count(kMetricTimeouts, "phase", "head");
      return CloseNow();
    }
    if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message || ec == net::error::eof ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset || ec == net::error::bad_descriptor) {
      return CloseNow();
    }
    return Reply(Error(400, "bad_request", "the request could not be parsed: " + ec.message()));
  }
  OnRequest();
}

void HttpServer::Impl::Session::OnRequest() {
  auto& msg = parser_->get();
  req_.method = std::string(msg.method_string());
  req_.target = std::string(msg.target());
  req_.version = static_cast<int>(msg.version());
  req_.remote_address = remote_;
  for (const auto& f : msg) req_.headers.Add(std::string(f.name_string()), std::string(f.value()));
  size_t q = req_.target.find('?');
  req_.path = req_.target.substr(0, q);
  if (q != std::string::npos) req_.query = req_.target.substr(q + 1);
  keep_alive_ = parser_->keep_alive();
  head_only_ = req_.method == "HEAD";
  const bool has_body = !parser_->is_done();

  if (req_.target.size() > kMaxTargetBytes) {
    keep_alive_ = keep_alive_ && !has_body;
    return Reply(Error(414, "uri_too_long", "the request target is too long"));
  }
  if (req_.path.empty() || req_.path.front() != '/') {
    return Reply(Error(400, "bad_request", "the request target must be an absolute path"));
  }
  Router::Match m = srv_->router_->Find(req_.method, req_.path);
  if (m.route == nullptr) {
    if (has_body) keep_alive_ = false;  // not worth reading a body nobody wants
    if (req_.method == "OPTIONS" && !m.allow.empty() && CorsOrigin() != nullptr) {
      // A CORS preflight from an allowed origin.
      Response r;
      r.status = 204;
      r.headers.Set("Access-Control-Allow-Methods", m.allow);
      r.headers.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, If-None-Match, Range");
      r.headers.Set("Access-Control-Max-Age", "600");
      return Reply(std::move(r));
    }
    if (!m.allow.empty()) {
      Response r = Error(405, "method_not_allowed", req_.method + " is not allowed here; use " + m.allow);
      r.headers.Set("Allow", m.allow);
      return Reply(std::move(r));
    }
    return Reply(Error(404, "not_found", "no route for " + req_.path));
  }
  route_ = m.route;
  req_.params = std::move(m.params);
  req_.route = route_->pattern;
  metric_route_ = route_->metric_route;
  max_body_ = route_->max_body_bytes;
  if (route_->rate_limited) {
    const char* scope = "address";
    int wait = srv_->client_rate_.Take(remote_);
    if (wait == 0) {
      if (std::optional<std::string_view> token = BearerToken(req_)) {
        scope = "token";
        wait = srv_->token_rate_.Take(*token);
      }
    }
    if (wait > 0) {
      srv_->Count(kMetricRateLimited, "scope", scope);
      if (has_body) keep_alive_ = false;
      Response r = Error(429, "rate_limited",
                         std::string("too many requests from this ") + (scope[0] == 'a' ? "address" : "token") +
                             "; retry after " + std::to_string(wait) + " s");
      r.headers.Set("Retry-After", std::to_string(wait));
      return Reply(std::move(r));
    }
  }

  if (has_body) {
    if (auto len = parser_->content_length(); len && *len > max_body_) {
      // Refused before a byte of the body is read; the connection closes
      // (after a short linger, so the client sees this answer).
      keep_alive_ = false;
      if (route_->body_handler) {
        try {
          reader_ = route_->body_handler(req_);
        } catch (const std::exception& e) {
          spdlog::error("http: body handler for {} threw: {}", req_.path, e.what());
        }
      }
      return FinishBody(ResourceExhaustedError(
          "too_large", "the request body exceeds " + std::to_string(max_body_) + " bytes"));
    }
  }
  if (route_->body_handler) {
    try {
      reader_ = route_->body_handler(req_);
    } catch (const std::exception& e) {
      spdlog::error("http: body handler for {} threw: {}", req_.path, e.what());
      keep_alive_ = false;
      return Reply(Error(500, "internal", "internal error"));
    }
    if (!reader_) {
      keep_alive_ = false;
      return Reply(Error(500, "internal", "internal error"));
    }
  }
  if (!has_body) {
    if (reader_) return FinishBody(Status::Ok());
    return Dispatch();
  }
  body_start_ = Clock::now();
  if (ListHasToken(req_.headers.Get("Expect"), "100-continue")) {
    out_ = "HTTP/1.1 100 Continue\r\n\r\n";
    stream_.expires_after(std::chrono::seconds(opt().write_timeout_s));
    return net::async_write(stream_, net::buffer(out_),
                            [self = shared_from_this()](beast::error_code e, size_t) {
                              if (e) return self->CloseNow();
                              self->ReadBody();
                            });
  }
  ReadBody();
}

// --- reading the body -------------------------------------------------------

void HttpServer::Impl::Session::ReadBody() {
  phase_ = Phase::kBody;
  if (body_buf_.size() != kBodyBufferSize) {
    body_buf_.resize(kBodyBufferSize);
    // Beast reads as much as the buffer's spare capacity (at least 512
    // bytes): without room, a body arrives ~1 KiB per recv, each with a
    // strand dispatch and a write() (4.3 ms of CPU per 200 kB upload, 2.6x
    // the old server). 64 KiB of room: a few reads per upload.
    buffer_.reserve(kBodyBufferSize);
  }
  auto& body = parser_->get().body();
  body.data = body_buf_.data();
  body.size = body_buf_.size();
  body.more = true;
  stream_.expires_after(std::chrono::seconds(opt().read_timeout_s));
  bhttp::async_read_some(stream_, buffer_, *parser_,
                         [self = shared_from_this()](beast::error_code ec, size_t) { self->OnBody(ec); });
}

void HttpServer::Impl::Session::OnBody(beast::error_code ec) {
  if (ec == bhttp::error::need_buffer) ec = {};
  const size_t n = body_buf_.size() - parser_->get().body().size;
  if (ec) {
    if (ec == beast::error::timeout) {
      // The socket is closed already (tcp_stream): nothing to answer.
      srv_->Count(kMetricTimeouts, "phase", "body_stall");
      reader_.reset();
      return CloseNow();
    }
    if (ec == bhttp::error::end_of_stream || ec == bhttp::error::partial_message || ec == net::error::eof ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset) {
      reader_.reset();  // the client is gone mid-body: nothing to answer
      return CloseNow();
    }
    keep_alive_ = false;
    return FinishBody(InvalidArgumentError("malformed_body", "the request body framing is invalid"));
  }
  body_bytes_ += n;
  if (body_bytes_ > max_body_) {
    keep_alive_ = false;
    return FinishBody(
        ResourceExhaustedError("too_large", "the request body exceeds " + std::to_string(max_body_) + " bytes"));
  }
  if (opt().min_body_rate > 0) {
    const double elapsed = std::chrono::duration<double>(Clock::now() - body_start_).count();
    if (elapsed > opt().body_rate_grace_s &&
        static_cast<double>(body_bytes_) < static_cast<double>(opt().min_body_rate) * elapsed) {
      srv_->Count(kMetricTimeouts, "phase", "body_rate");
      keep_alive_ = false;
      reader_.reset();
      return Reply(Error(408, "request_timeout",
                         "the request body arrives slower than " + std::to_string(opt().min_body_rate) +
                             " bytes/s"));
    }
  }
  const bool done = parser_->is_done();
  if (!reader_) {
    // A small body for a plain route: read and dropped.
    return done ? Dispatch() : ReadBody();
  }
  // OnData runs here, on the I/O thread: parsing and a buffered write to
  // the page cache. A hop to the pool per piece cost more than the work
  // (two thread wake-ups per 64 KiB: 438 -> 55 uploads/s at 48 clients on
  // a loaded 2-core machine). Finish, which fsyncs and waits, hops.
  if (n > 0) {
    try {
      reader_->OnData(std::string_view(body_buf_.data(), n));
    } catch (const std::exception& e) {
      spdlog::error("http: {} {} threw: {}", req_.method, req_.path, e.what());
      reader_.reset();
      keep_alive_ = false;
      return Reply(Error(500, "internal", "internal error"));
    }
  }
  if (!done) return ReadBody();
  FinishBody(Status::Ok());
}

// Ends a body route early or at the end: Finish(status) on the pool.
void HttpServer::Impl::Session::FinishBody(Status body_status) {
  if (!reader_) {
    int http = HttpStatusFor(body_status);
    return Reply(Error(http, body_status.reason(), body_status.message()));
  }
  phase_ = Phase::kHandling;
  net::post(srv_->pool_, [self = shared_from_this(), st = std::move(body_status)] {
    Response res;
    try {
      res = self->reader_->Finish(st);
    } catch (const std::exception& e) {
      spdlog::error("http: {} {} threw: {}", self->req_.method, self->req_.path, e.what());
      res = ErrorResponse(500, "internal", "internal error");
    }
    net::post(self->stream_.get_executor(), [self, r = std::move(res)]() mutable {
      self->reader_.reset();
      self->Reply(std::move(r));
    });
  });
}

// --- handlers ---------------------------------------------------------------

Response HttpServer::Impl::Session::Invoke() {
  try {
    return route_->handler(req_);
  } catch (const std::exception& e) {
    spdlog::error("http: {} {} threw: {}", req_.method, req_.path, e.what());
  } catch (...) {
    spdlog::error("http: {} {} threw a non-exception", req_.method, req_.path);
  }
  return ErrorResponse(500, "internal", "internal error");
}

void HttpServer::Impl::Session::Dispatch() {
  phase_ = Phase::kHandling;
  if (route_->inline_io) return Reply(Invoke());
  net::post(srv_->pool_, [self = shared_from_this()] {
    Response res = self->Invoke();
    net::post(self->stream_.get_executor(), [self, r = std::move(res)]() mutable { self->Reply(std::move(r)); });
  });
}

// --- writing the answer -----------------------------------------------------

void HttpServer::Impl::Session::Reply(Response res) {
  phase_ = Phase::kWriting;
  if (res.close || stopping_ || srv_->stopping_) keep_alive_ = false;
  // An unread body (or its unread rest) would be parsed as the next request.
  if (parser_ && parser_->is_header_done() && !parser_->is_done()) keep_alive_ = false;
  if (!parser_ || !parser_->is_header_done()) keep_alive_ = false;
  const bool streaming = static_cast<bool>(res.stream) && !head_only_;
  if (streaming) keep_alive_ = false;  // a stream ends by closing
  res_status_ = res.status;

  AddDefaultHeaders(res.headers);
  if (const std::string* origin = CorsOrigin()) {
    res.headers.Set("Access-Control-Allow-Origin", *origin);
    res.headers.Set("Access-Control-Expose-Headers", "ETag, Location, Retry-After, Content-Range");
    res.headers.Add("Vary", "Origin");
  }
  out_ = StatusLine(res.status);
  for (const auto& [k, v] : res.headers.fields()) {
    if (EqualsIgnoreCase(k, "Content-Length") || EqualsIgnoreCase(k, "Transfer-Encoding") ||
        EqualsIgnoreCase(k, "Connection") || !HeaderValueOk(v) || !HeaderValueOk(k)) {
      continue;
    }
    out_ += k;
    out_ += ": ";
    out_ += v;
    out_ += "\r\n";
  }
  const bool no_body_status = res.status == 204 || res.status == 304 || res.status < 200;
  std::uint64_t length = res.file ? res.file->length() : res.body.size();
  if (streaming) {
    out_ += "Transfer-Encoding: chunked\r\n";
  } else if (res.stream) {
    // HEAD of a stream: no length to announce.
  } else if (!no_body_status) {
    out_ += "Content-Length: " + std::to_string(length) + "\r\n";
  }
  if (!keep_alive_) {
    out_ += "Connection: close\r\n";
  } else if (req_.version == 10) {
    out_ += "Connection: keep-alive\r\n";
  }
  out_ += "\r\n";
  const bool send_body = !head_only_ && !no_body_status;
  if (send_body && !res.file && !streaming) {
    out_ += res.body;
    res_bytes_ = res.body.size();
  }
  stream_.expires_after(std::chrono::seconds(opt().write_timeout_s));
  if (streaming) {
    auto starter = std::move(res.stream);
    return net::async_write(stream_, net::buffer(out_),
                            [self = shared_from_this(), starter = std::move(starter)](beast::error_code ec,
                                                                                    size_t) {
                              if (ec) return self->CloseNow();
                              self->Observe();
                              self->phase_ = Phase::kStreaming;
                              self->stream_obj_ =
                                  std::make_shared<Stream>(self->weak_from_this(), self->stream_.get_executor());
                              self->stream_.expires_never();
                              self->WatchStreamPeer();
                              try {
                                starter(self->stream_obj_);
                              } catch (const std::exception& e) {
                                spdlog::error("http: stream starter for {} threw: {}", self->req_.path, e.what());
                                self->EndStream(true);
                              }
                            });
  }
  if (send_body && res.file) {
    auto file = std::move(res.file);
    return net::async_write(stream_, net::buffer(out_),
                            [self = shared_from_this(), file](beast::error_code ec, size_t) {
                              if (ec) return self->CloseNow();
                              self->WriteFile(file, 0);
                            });
  }
  net::async_write(stream_, net::buffer(out_),
                   [self = shared_from_this()](beast::error_code ec, size_t) { self->AfterWrite(ec); });
}

void HttpServer::Impl::Session::WriteFile(std::shared_ptr<FileBody> file, std::uint64_t done) {
  if (done >= file->length()) return AfterWrite({});
  const size_t want = static_cast<size_t>(std::min<std::uint64_t>(file->length() - done, kBodyBufferSize));
  file_chunk_.resize(want);
  ssize_t n = ::pread(file->fd(), file_chunk_.data(), want, static_cast<off_t>(file->offset() + done));
  if (n <= 0) {
    spdlog::warn("http: reading the body file of {} failed at {}", req_.path, done);
    return CloseNow();  // the length was announced: cutting is the only honest end
  }
  file_chunk_.resize(static_cast<size_t>(n));
  res_bytes_ += static_cast<std::uint64_t>(n);
  stream_.expires_after(std::chrono::seconds(opt().write_timeout_s));
  net::async_write(stream_, net::buffer(file_chunk_),
                   [self = shared_from_this(), file, done, n](beast::error_code ec, size_t) {
                     if (ec) return self->CloseNow();
                     self->WriteFile(file, done + static_cast<std::uint64_t>(n));
                   });
}

void HttpServer::Impl::Session::AfterWrite(beast::error_code ec) {
  if (ec) return CloseNow();
  Observe();
  first_ = false;
  if (!keep_alive_) return GracefulClose();
  ReadHead();
}

void HttpServer::Impl::Session::Observe() {
  if (!srv_->observer_ || res_status_ == 0) return;
  RequestSummary s{&req_, metric_route_, res_status_, res_bytes_,
                   std::chrono::duration<double>(Clock::now() - req_start_).count()};
  try {
    srv_->observer_(s);
  } catch (const std::exception& e) {
    spdlog::error("http: request observer threw: {}", e.what());
  }
}

// Shuts our side, then drops what the client still sends for a moment:
// closing with unread bytes would make the kernel send a reset, and the
// client could lose the answer it has not read yet.
void HttpServer::Impl::Session::GracefulClose() {
  phase_ = Phase::kClosing;
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) return CloseNow();
  buffer_.clear();
  buffer_.shrink_to_fit();
  body_buf_ = {};
  out_ = {};
  linger_buf_.resize(4096);
  // While stopping, a short linger: Stop() waits for every connection.
  stream_.expires_after(srv_->stopping_ ? std::chrono::milliseconds(250)
                                        : std::chrono::duration_cast<std::chrono::milliseconds>(kLingerTime));
  Linger();
}

void HttpServer::Impl::Session::Linger() {
  stream_.async_read_some(net::buffer(linger_buf_), [self = shared_from_this()](beast::error_code ec, size_t n) {
    self->lingered_ += n;
    if (ec || self->lingered_ > kLingerBytes) return self->CloseNow();
    self->Linger();
  });
}

// --- streams ----------------------------------------------------------------

// While a stream is open nothing more is expected from the client; a read
// still runs to notice it going away (EOF, reset).
void HttpServer::Impl::Session::WatchStreamPeer() {
  watch_buf_.resize(512);
  stream_.socket().async_read_some(net::buffer(watch_buf_),
                                   [self = shared_from_this()](beast::error_code ec, size_t) {
                                     if (self->phase_ != Phase::kStreaming) return;
                                     if (ec) return self->EndStream(true);
                                     self->WatchStreamPeer();
                                   });
}

void HttpServer::Impl::Session::StreamWrite(std::string chunk) {
  if (phase_ != Phase::kStreaming || stream_ending_ || chunk.empty()) {
    if (stream_obj_ && !chunk.empty()) stream_obj_->Sent(chunk.size());
    return;
  }
  stream_queue_.push_back(std::move(chunk));
  PumpStream();
}

void HttpServer::Impl::Session::PumpStream() {
  if (stream_writing_ || phase_ != Phase::kStreaming) return;
  if (stream_queue_.empty()) {
    if (stream_ending_) {
      stream_writing_ = true;
      out_ = "0\r\n\r\n";
      stream_.expires_after(std::chrono::seconds(opt().write_timeout_s));
      net::async_write(stream_, net::buffer(out_), [self = shared_from_this()](beast::error_code, size_t) {
        self->stream_writing_ = false;
        self->phase_ = Phase::kClosing;
        if (self->stream_obj_) self->stream_obj_->MarkClosed();
        // The peer watch still reads the socket, so no lingering read here.
        self->CloseNow();
      });
    }
    return;
  }
  std::string data = std::move(stream_queue_.front());
  stream_queue_.pop_front();
  char size_line[32];
  std::snprintf(size_line, sizeof size_line, "%zx\r\n", data.size());
  const size_t n = data.size();
  out_ = size_line;
  out_ += data;
  out_ += "\r\n";
  res_bytes_ += n;
  stream_writing_ = true;
  stream_.expires_after(std::chrono::seconds(opt().write_timeout_s));
  net::async_write(stream_, net::buffer(out_), [self = shared_from_this(), n](beast::error_code ec, size_t) {
    self->stream_writing_ = false;
    if (self->stream_obj_) self->stream_obj_->Sent(n);
    if (ec) return self->EndStream(true);
    self->stream_.expires_never();
    self->PumpStream();
  });
}

void HttpServer::Impl::Session::EndStream(bool abort) {
  if (phase_ != Phase::kStreaming) return;
  if (abort) {
    phase_ = Phase::kClosing;
    stream_queue_.clear();
    if (stream_obj_) stream_obj_->MarkClosed();
    return CloseNow();
  }
  stream_ending_ = true;
  PumpStream();
}

// --- accepting --------------------------------------------------------------

void HttpServer::Impl::Refuse(tcp::socket& socket, int status, std::string_view code, std::string_view message,
                              int retry_after_s) {
  // Canned and non-blocking: a refused connection costs no session. What the
  // client already sent is read first so the close does not turn into a
  // reset that could swallow the answer.
  std::string body = ErrorBody(code, message);
  std::string msg = StatusLine(status) + "Content-Type: application/json\r\nRetry-After: " +
                    std::to_string(retry_after_s) + "\r\nConnection: close\r\nContent-Length: " +
                    std::to_string(body.size()) + "\r\n\r\n" + body;
  const int fd = socket.native_handle();
  char sink[4096];
  for (int i = 0; i < 16 && ::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; ++i) {
  }
  [[maybe_unused]] ssize_t w = ::send(fd, msg.data(), msg.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  beast::error_code ec;
  socket.shutdown(tcp::socket::shutdown_send, ec);
  socket.close(ec);
}

void HttpServer::Impl::DoAccept() {
  acceptor_.async_accept(net::make_strand(ioc_), [self = shared_from_this()](beast::error_code ec, tcp::socket s) {
    self->OnAccept(ec, std::move(s));
  });
}

void HttpServer::Impl::OnAccept(beast::error_code ec, tcp::socket socket) {
  if (ec == net::error::operation_aborted || !acceptor_.is_open()) return;
  if (ec) {
    // EMFILE and friends: back off instead of spinning on the error.
    spdlog::warn("http: accept failed: {}", ec.message());
    retry_timer_.expires_after(std::chrono::milliseconds(50));
    retry_timer_.async_wait([self = shared_from_this()](beast::error_code e) {
      if (!e) self->DoAccept();
    });
    return;
  }
  beast::error_code e2;
  auto ep = socket.remote_endpoint(e2);
  if (e2) {
    DoAccept();
    return;
  }
  std::string client = ep.address().to_string();
  const char* refused = nullptr;
  {
    std::lock_guard<std::mutex> lock(mu_);
    int& n = per_client_[client];
    if (open_ >= opt_.max_connections) {
      refused = "max_connections";
    } else if (opt_.max_connections_per_client > 0 && n >= opt_.max_connections_per_client) {
      refused = "per_client_cap";
    } else {
      ++n;
      ++open_;
    }
    if (refused != nullptr && n == 0) per_client_.erase(client);
  }
  if (refused != nullptr) {
    Count(kMetricRefused, "reason", refused);
    if (std::string_view(refused) == "per_client_cap") {
      Refuse(socket, 429, "too_many_connections",
             "more than " + std::to_string(opt_.max_connections_per_client) +
                 " connections from this address; close some and retry",
             opt_.retry_after_s);
    } else {
      Refuse(socket, 503, "too_many_connections", "the server is at its connection limit; retry later",
             opt_.retry_after_s);
    }
    DoAccept();
    return;
  }
  if (metrics_ != nullptr) metrics_->Add(kMetricConnections, {}, 1);
  beast::error_code nd;
  socket.set_option(tcp::no_delay(true), nd);
  auto session = std::make_shared<Session>(shared_from_this(), std::move(socket), std::move(client));
  {
    std::lock_guard<std::mutex> lock(mu_);
    sessions_[session.get()] = session;
  }
  // Start on the session's own strand.
  net::dispatch(session->Executor(), [session] { session->Start(); });
  DoAccept();
}

Status HttpServer::Impl::Start() {
  // Thousands of connections need thousands of descriptors.
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  beast::error_code ec;
  auto addr = net::ip::make_address(opt_.host == "localhost" ? "127.0.0.1" : opt_.host, ec);
  if (ec) return UnavailableError("bind_failed", "bad listen host '" + opt_.host + "': " + ec.message());
  tcp::endpoint ep(addr, static_cast<unsigned short>(opt_.port));
  acceptor_.open(ep.protocol(), ec);
  if (!ec) acceptor_.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(4096, ec);
  if (ec) {
    beast::error_code ignored;
    acceptor_.close(ignored);
    return UnavailableError("bind_failed",
                            "cannot listen on " + opt_.host + ":" + std::to_string(opt_.port) + ": " + ec.message());
  }
  port_ = acceptor_.local_endpoint().port();
  running_ = true;
  started_ = true;
  work_.emplace(ioc_.get_executor());
  DoAccept();
  for (int i = 0; i < opt_.io_threads; ++i) {
    ++io_running_;
    io_threads_.emplace_back([this] {
      // Returns once Stop() released the work guard and nothing is left.
      ioc_.run();
      --io_running_;
    });
  }
  return Status::Ok();
}

void HttpServer::Impl::Stop() {
  if (!started_ || stopping_.exchange(true)) return;
  net::post(acceptor_.get_executor(), [self = shared_from_this()] {
    beast::error_code ec;
    self->acceptor_.close(ec);
    self->retry_timer_.cancel();
  });
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (auto& [p, w] : sessions_) {
      if (auto s = w.lock()) live.push_back(std::move(s));
    }
  }
  for (auto& s : live) {
    net::post(s->Executor(), [s] { s->OnServerStop(); });
  }
  live.clear();
  {
    // In-flight requests finish and are answered; idle ones are closed.
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::minutes(5), [this] { return open_ == 0; });
  }
  work_.reset();
  // With the listener and every connection gone the I/O threads run out of
  // work and return (their handlers hold this Impl: leaving one queued would
  // leak it). A straggler is cut after a grace period.
  for (int i = 0; i < 200 && io_running_ > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (io_running_ > 0) ioc_.stop();
  for (auto& t : io_threads_) t.join();
  io_threads_.clear();
  pool_.join();
  running_ = false;
}

// --- HttpServer -------------------------------------------------------------

HttpServer::HttpServer(ServerOptions options, const Router* router, RequestObserver observer,
                       metrics::MetricsRegistry* metrics)
    : impl_(std::make_shared<Impl>(std::move(options), router, std::move(observer), metrics)) {}

HttpServer::~HttpServer() { Stop(); }

Status HttpServer::Start() {
  if (impl_->started_) return FailedPreconditionError("already_started", "HttpServer::Start called twice");
  return impl_->Start();
}

void HttpServer::Stop() { impl_->Stop(); }
bool HttpServer::running() const { return impl_->running_ && !impl_->stopping_; }
int HttpServer::port() const { return impl_->port_; }
int HttpServer::connections() const {
  std::lock_guard<std::mutex> lock(impl_->mu_);
  return impl_->open_;
}

}  // namespace photo::http
