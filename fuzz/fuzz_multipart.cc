// libFuzzer target: the API's front end through the real server.
//
// The target drives the whole request path (Beast's request parser, which
// is header-only and so instrumented, the router, MultipartParser, the
// upload route, the probe): one photo::http::ApiServer on 127.0.0.1 (port 0, a
// memory store, a publisher that confirms and drops, a fresh data dir on
// tmpfs unless PHOTO_FUZZ_TMPDIR names another place) is started once, and
// every input is sent as the body of
//
//   POST /upload/   Content-Type: multipart/form-data; boundary=XyZ
//
// over a plain blocking socket, which is then half-closed (the server must
// still answer).
//
// A leading byte 0x01..0x07 varies the request instead (the rest of the first
// line is its argument, the remainder is the body):
//   0x01 boundary=<line>            0x04 one extra header line (not framing)
//   0x02 Content-Type: <line>       0x05 Authorization: <line>
//   0x03 chunked, chunk size from the next byte
//   0x06 the broker refuses the job (rollback path: expect 503)
//   0x07 the rest is the whole request as sent (head and body, any route):
//        any status or none at all may come back, the file checks still hold
//
// Checked per input (a broken check aborts, so libFuzzer keeps the input):
//  - an answer arrives, with a status in {202,400,401,413,415,431,503}; 503 only
//    when the broker was told to refuse, 202 only when it was not; its body
//    is at most 4 KiB (error messages are about this request only);
//  - <data>/tmp is empty afterwards (no upload temp file outlives its request);
//  - nothing is left in <data>/images after a refusal; a 202 left exactly its
//    original at layout.Original(id) and a record (both then removed, so the
//    data dir stays small);
// and every 512 inputs and at exit: the temp root holds only `data`, the data
// dir only tmp/ and images/, and the working directory gained no entry.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

#include "photo/broker/publisher.h"
#include "photo/core/ids.h"
#include "photo/core/status.h"
#include "photo/http/api_config.h"
#include "photo/http/api_server.h"
#include "photo/pipeline/layout.h"
#include "photo/store/memory_store.h"

namespace {

namespace fs = std::filesystem;

constexpr char kToken[] = "fuzz-token";
constexpr char kBoundary[] = "XyZ";
constexpr int kResponseTimeoutMs = 10'000;
constexpr std::uint64_t kSweepEvery = 512;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_multipart: contract broken: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// Confirms every job without keeping it (FakePublisher would grow for the
// whole run), or refuses when told to.
class DroppingPublisher final : public photo::broker::Publisher {
 public:
  photo::Status Publish(const photo::broker::OutgoingMessage& message) override {
    if (refuse_.load()) return photo::UnavailableError("broker_unavailable", "fuzz: refused");
    if (message.routing_key != photo::broker::kResizeQueue || !message.exchange.empty() ||
        message.body.empty() || message.message_id.empty()) {
      Fail("malformed resize job: routing_key=" + message.routing_key);
    }
    published_.fetch_add(1);
    return photo::Status::Ok();
  }
  photo::Status Ping() override { return photo::Status::Ok(); }
  void set_refuse(bool refuse) { refuse_.store(refuse); }

 private:
  std::atomic<bool> refuse_{false};
  std::atomic<std::uint64_t> published_{0};
};

std::set<std::string> Listing(const fs::path& dir) {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) names.insert(e.path().filename().string());
  if (ec) Fail("cannot list " + dir.string() + ": " + ec.message());
  return names;
}

bool IsFuzzerArtifact(const std::string& name) {
  for (const char* prefix : {"crash-", "leak-", "timeout-", "oom-", "slow-unit-", "fuzz-"}) {
    if (name.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

struct Harness {
  fs::path root;  // mkdtemp'd; holds only data/
  fs::path data;
  fs::path cwd;
  std::set<std::string> cwd_listing;
  photo::store::MemoryStatusStore store;
  DroppingPublisher publisher;
  std::unique_ptr<photo::http::ApiServer> server;
  int port = 0;
  std::uint64_t runs = 0;
  std::map<int, std::uint64_t> statuses;
  bool debug = false;  // PHOTO_FUZZ_DEBUG: server log at debug, one line per input
};

Harness* g = nullptr;  // leaked on purpose: outlives static destructors

void Sweep() {
  if (Listing(g->root) != std::set<std::string>{"data"})
    Fail("something was written next to the data dir");
  for (const std::string& name : Listing(g->data)) {
    if (name != "tmp" && name != "images") Fail("unexpected entry in the data dir: " + name);
  }
  for (const std::string& name : Listing(g->cwd)) {
    if (g->cwd_listing.count(name) == 0 && !IsFuzzerArtifact(name)) {
      Fail("new entry in the working directory: " + name);
    }
  }
}

void AtExit() {
  if (g == nullptr) return;
  Sweep();
  g->server->Stop();
  std::fprintf(
      stderr, "fuzz_multipart statuses after %llu runs:", static_cast<unsigned long long>(g->runs));
  for (const auto& [code, n] : g->statuses) {
    std::fprintf(stderr, " %d=%llu", code, static_cast<unsigned long long>(n));
  }
  std::fprintf(stderr, "\n");
  std::error_code ec;
  fs::remove_all(g->root, ec);
}

// One request as bytes on the wire.
struct Wire {
  std::string bytes;
  bool refuse = false;
  bool raw = false;
};

std::string_view TakeLine(std::string_view* in, size_t max) {
  size_t nl = in->find('\n');
  std::string_view line = in->substr(0, nl);
  in->remove_prefix(nl == std::string_view::npos ? in->size() : nl + 1);
  return line.substr(0, max);
}

// A header value cannot hold CR or LF (that would be a different request,
// not a different header).
std::string HeaderSafe(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c == '\r' || c == '\n') c = ' ';
  }
  return out;
}

// The harness owns the body framing: a fuzzed Content-Length or
// Transfer-Encoding would only make the server wait out its read timeout
// for bytes that never come (2 s per input), so those get an X- prefix.
std::string FramingSafe(std::string header) {
  // An empty line would end the header block early: the rest of the request
  // would be parsed as a second one, which waits for bytes the same way.
  if (header.empty()) return "X-Empty: 1";
  size_t start = header.find_first_not_of(" \t");
  if (start == std::string::npos) return header;
  std::string name = header.substr(start, 20);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (name.rfind("content-length", 0) == 0 || name.rfind("transfer-encoding", 0) == 0) {
    header.insert(start, "X-");
  }
  return header;
}

Wire BuildRequest(std::string_view input) {
  std::string content_type = std::string("multipart/form-data; boundary=") + kBoundary;
  std::string auth = std::string("Bearer ") + kToken;
  std::string extra;
  bool chunked = false;
  size_t chunk = 0;
  Wire wire;
  if (!input.empty() && input[0] == 0x07) {
    wire.raw = true;
    wire.bytes = std::string(input.substr(1));
    return wire;
  }
  if (!input.empty() && input[0] >= 0x01 && input[0] <= 0x06) {
    const char mode = input[0];
    input.remove_prefix(1);
    switch (mode) {
      case 0x01:
        content_type = "multipart/form-data; boundary=" + HeaderSafe(TakeLine(&input, 512));
        break;
      case 0x02:
        content_type = HeaderSafe(TakeLine(&input, 512));
        break;
      case 0x03:
        chunked = true;
        chunk = input.empty() ? 1 : 1 + static_cast<unsigned char>(input[0]);
        if (!input.empty()) input.remove_prefix(1);
        break;
      case 0x04:
        extra = FramingSafe(HeaderSafe(TakeLine(&input, 16 * 1024))) + "\r\n";
        break;
      case 0x05:
        auth = HeaderSafe(TakeLine(&input, 512));
        break;
      case 0x06:
        wire.refuse = true;
        break;
    }
  }
  std::string& w = wire.bytes;
  w.reserve(input.size() + 512);
  w += "POST /upload/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
  w += "Authorization: " + auth + "\r\n";
  w += "Content-Type: " + content_type + "\r\n";
  w += extra;
  if (chunked) {
    w += "Transfer-Encoding: chunked\r\n\r\n";
    for (size_t pos = 0; pos < input.size(); pos += chunk) {
      std::string_view part = input.substr(pos, chunk);
      char size_line[32];
      std::snprintf(size_line, sizeof size_line, "%zx\r\n", part.size());
      w += size_line;
      w += part;
      w += "\r\n";
    }
    w += "0\r\n\r\n";
  } else {
    w += "Content-Length: " + std::to_string(input.size()) + "\r\n\r\n";
    w += input;
  }
  return wire;
}

// The final status of "HTTP/1.1 NNN ..." responses; interim 1xx answers
// (100 Continue for "Expect: 100-continue") are skipped. -1 when none.
int StatusOf(const std::string& response, size_t* body_at) {
  size_t pos = 0;
  for (;;) {
    if (response.size() < pos + 12 || response.compare(pos, 9, "HTTP/1.1 ") != 0) return -1;
    int code = 0;
    for (size_t i = pos + 9; i < pos + 12; ++i) {
      if (response[i] < '0' || response[i] > '9') return -1;
      code = code * 10 + (response[i] - '0');
    }
    size_t end = response.find("\r\n\r\n", pos);
    if (end == std::string::npos) return -1;
    if (code >= 200) {
      *body_at = end + 4;
      return code;
    }
    pos = end + 4;
  }
}

// True once `response` holds a final answer and all of its Content-Length
// body. Reading to EOF instead would wait out the keep-alive timeout after
// answers cpp-httplib gives without parsing the request (a header over its
// line limit: 400, then the connection idles for a second).
bool Complete(const std::string& response) {
  size_t body_at = 0;
  if (StatusOf(response, &body_at) < 0) return false;
  std::string head = response.substr(0, body_at);
  for (char& c : head) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const size_t cl = head.rfind("\r\ncontent-length:");
  if (cl == std::string::npos) return false;  // read to EOF
  const unsigned long long length = std::strtoull(head.c_str() + cl + 17, nullptr, 10);
  return response.size() - body_at >= length;
}

// libFuzzer's -timeout alarm (SIGALRM) interrupts blocking calls. An
// interrupted connect() goes on in the background: wait for it to finish.
void Connect(int fd, const sockaddr_in& addr) {
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return;
  if (errno != EINTR) Fail(std::string("connect: ") + std::strerror(errno));
  pollfd p{.fd = fd, .events = POLLOUT, .revents = 0};
  int r;
  do {
    r = ::poll(&p, 1, kResponseTimeoutMs);
  } while (r < 0 && errno == EINTR);
  int err = 0;
  socklen_t len = sizeof err;
  if (r <= 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
    Fail(std::string("connect (after EINTR): ") + std::strerror(err != 0 ? err : errno));
  }
}

// Sends the request and reads the answer (to its Content-Length, else to
// EOF: the request says "Connection: close"). Returns the raw response;
// empty if none came.
std::string RoundTrip(const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) Fail(std::string("socket: ") + std::strerror(errno));
  timeval tv{.tv_sec = kResponseTimeoutMs / 1000, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(g->port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  Connect(fd, addr);
  // The server may answer (and close) before the whole body is sent, e.g.
  // 413 on Content-Length: stop sending then, and read the answer.
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;
    }
    sent += static_cast<size_t>(n);
  }
  // Half-closed: the server must still answer (and an incomplete head ends
  // at EOF instead of waiting for the head deadline).
  ::shutdown(fd, SHUT_WR);

  std::string response;
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(kResponseTimeoutMs);
  char buf[16 * 1024];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) Fail("no complete answer within the timeout");
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // EOF, or a reset after the answer
    response.append(buf, static_cast<size_t>(n));
    if (Complete(response)) break;
  }
  ::close(fd);
  return response;
}

// Regular files under <data>/images; empty directories are removed (the API
// keeps id-prefix directories: other uploads may be using them).
std::vector<fs::path> ImageFiles() {
  std::vector<fs::path> files;
  std::vector<fs::path> dirs;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(g->data / "images", ec)) {
    if (e.is_directory()) {
      dirs.push_back(e.path());
    } else {
      files.push_back(e.path());
    }
  }
  if (ec) Fail("cannot walk images: " + ec.message());
  for (auto it = dirs.rbegin(); it != dirs.rend(); ++it) {
    if (fs::is_empty(*it, ec)) fs::remove(*it, ec);
  }
  return files;
}

// What SanitizeFilename (core/ids.h) promises.
bool IsSafeFilename(const std::string& name) {
  if (name.empty() || name.size() > 255 || name == "." || name == "..") return false;
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f || c == '/' || c == '\\' || c == '"') return false;
  }
  return true;
}

// A 202 stored exactly one original, where the layout says, and a record;
// both are removed again so the data dir stays small.
void CheckAccepted(const std::string& body) {
  nlohmann::json j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.contains("id") || !j["id"].is_string())
    Fail("202 body without an id: " + body);
  const std::string id = j["id"].get<std::string>();
  if (!photo::IsValidImageId(id)) Fail("202 with an invalid id: " + id);
  if (!j.contains("filename") || !j["filename"].is_string() ||
      !IsSafeFilename(j["filename"].get<std::string>())) {
    Fail("202 with an unsafe filename: " + body);
  }
  photo::pipeline::Layout layout(g->data);
  const std::vector<fs::path> files = ImageFiles();
  if (files.size() != 1 || files[0] != layout.Original(id)) {
    Fail("202 but the files under images/ are not exactly " + layout.Original(id).string());
  }
  if (!g->store.Get(id).has_value()) Fail("202 but no record for " + id);
  std::error_code ec;
  fs::remove_all(layout.ImageDir(id), ec);
  if (!ImageFiles().empty()) Fail("cannot clean images/");
  if (!g->store.Delete(id).ok()) Fail("cannot delete record " + id);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  ::setenv("PHOTO_PIPELINE_VIPS_CONCURRENCY", "1", 0);
  g = new Harness();
  g->debug = std::getenv("PHOTO_FUZZ_DEBUG") != nullptr;
  spdlog::set_level(g->debug ? spdlog::level::debug : spdlog::level::err);
  g->cwd = fs::current_path();
  g->cwd_listing = Listing(g->cwd);
  // tmpfs when there is one: every accepted upload fsyncs its file and three
  // directories, which on a disk costs ~25 ms and would set the pace.
  fs::path base = fs::temp_directory_path();
  if (const char* env = std::getenv("PHOTO_FUZZ_TMPDIR"); env != nullptr && *env != '\0') {
    base = env;
  } else if (::access("/dev/shm", W_OK | X_OK) == 0) {
    base = "/dev/shm";
  }
  std::string tmpl = (base / "photo-fuzz-multipart-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) Fail(std::string("mkdtemp: ") + std::strerror(errno));
  g->root = tmpl;
  g->data = g->root / "data";

  photo::http::ApiConfig config;
  config.host = "127.0.0.1";
  config.port = 0;
  config.data_dir = g->data;
  // Small enough that a 64 KiB input can cross every limit: the file cap
  // (UploadSink) and the body cap (cpp-httplib's Content-Length check).
  config.limits.max_bytes = 32 * 1024;
  config.limits.max_pixels = 4'000'000;
  config.limits.max_frames = 16;
  config.multipart_overhead = 8 * 1024;
  config.threads = 2;
  config.read_timeout_s = 2;
  config.write_timeout_s = 2;
  config.keep_alive_timeout_s = 1;
  config.head_timeout_s = 2;
  config.api_token = kToken;
  config.access_log = false;
  g->server = std::make_unique<photo::http::ApiServer>(
      config, photo::http::ApiDeps{.store = &g->store, .publisher = &g->publisher});
  if (photo::Status s = g->server->Start(); !s.ok()) Fail("ApiServer::Start: " + s.ToString());
  g->port = g->server->port();
  std::atexit(AtExit);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  const Wire wire = BuildRequest(std::string_view(reinterpret_cast<const char*>(data), size));
  g->publisher.set_refuse(wire.refuse);
  const auto started = std::chrono::steady_clock::now();
  const std::string response = RoundTrip(wire.bytes);
  g->publisher.set_refuse(false);
  if (g->debug) {
    auto ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
                  .count();
    const size_t head_end = response.find("\r\n\r\n");
    const std::string body =
        head_end == std::string::npos ? "" : response.substr(head_end + 4, 200);
    std::fprintf(stderr, "fuzz_multipart: mode %d, %zu bytes -> %.12s, %zu bytes in %.1f ms: %s\n",
                 size > 0 && data[0] <= 7 ? data[0] : 0, size, response.c_str(), response.size(),
                 ms, body.c_str());
  }

  size_t body_at = 0;
  const int status = StatusOf(response, &body_at);
  ++g->statuses[status];
  // Every answer here is a short JSON document; a long one carried text that
  // is not about this request (libvips' process-wide error buffer did).
  // (Mode 7 may ask for /metrics, /openapi.json or /docs: long by nature.)
  if (!wire.raw && response.size() - std::min(body_at, response.size()) > 4096) {
    Fail("a " + std::to_string(response.size() - body_at) +
         "-byte answer: " + response.substr(0, 600));
  }
  if (wire.raw) {
    // Any answer (or none: a head cut by EOF) is fine for arbitrary bytes,
    // as long as it is HTTP and nothing is left behind.
    if (status != -1 && (status < 200 || status > 599)) Fail("odd status: " + response.substr(0, 200));
    if (status == 202) CheckAccepted(response.substr(body_at));
    if (status == 503) Fail("503 although store and broker were fine");
  } else switch (status) {
    case 202:
      if (wire.refuse) Fail("202 although the broker refused the job");
      CheckAccepted(response.substr(body_at));
      break;
    case 503:
      if (!wire.refuse) Fail("503 although store and broker were fine");
      break;
    case 400:
    case 401:
    case 413:
    case 415:
    case 431:
      break;
    default:
      Fail("unexpected answer: " + response.substr(0, 512));
  }
  std::error_code ec;
  if (!fs::is_empty(g->data / "tmp", ec) || ec) Fail("an upload temp file outlived its request");
  if (status != 202 && !ImageFiles().empty()) Fail("a refused upload left files in images/");
  if (++g->runs % kSweepEvery == 0) Sweep();
  return 0;
}
