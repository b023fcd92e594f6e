// Router: which handler answers a request. Routes are registered once before
// the server starts (one Register*Routes function per route file, see
// api_server.cc) and matched per request without locks.
//
// Patterns: literal segments, "{name}" for one non-empty segment, and a last
// "{name...}" for the rest of the path (may be empty, may contain '/').
// "/upload" and "/upload/" are different patterns. When several routes
// match, the one with the most literal segments wins. Parameters are
// percent-decoded per segment, so "%2F" stays inside its segment.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "photo/core/status.h"
#include "photo/http/request.h"

namespace photo::http {

// Answers a request whose body (if any) was small and has been read.
using Handler = std::function<Response(const Request&)>;

// Receives a request body as it arrives, for uploads. Created and fed on the
// connection's I/O thread: the constructor and OnData must not block beyond
// a buffered write (parse, write() to a temp file; no fsync, store or
// broker). Finish runs on the worker pool and may block. Calls come one at a
// time, in order. Destroyed without Finish when the client goes away
// mid-body: clean up in the destructor.
class BodyReader {
 public:
  virtual ~BodyReader() = default;
  // The next piece of the body (chunked framing already removed).
  virtual void OnData(std::string_view data) = 0;
  // The body is over. `body` is OK when it was read to its end; otherwise
  // too_large (kResourceExhausted: over the route's max_body_bytes; the
  // connection will be closed), or malformed_body (bad chunked framing).
  // Returns the answer.
  virtual Response Finish(const Status& body) = 0;
};
using BodyHandler = std::function<std::unique_ptr<BodyReader>(const Request&)>;

struct Route {
  std::string method{};   // "GET" also answers HEAD (body suppressed)
  std::string pattern{};  // "/images/{id}/{rendition}"
  Handler handler{};      // set exactly one of handler / body_handler
  BodyHandler body_handler{};
  // Runs on the I/O thread instead of the worker pool: only for handlers that
  // never block (no store, broker or disk). /healthz uses it so it answers
  // even when every worker is busy with uploads.
  bool inline_io = false;
  // Largest body accepted: beyond it a body route gets Finish(too_large), a
  // plain route 413.
  std::uint64_t max_body_bytes = 64 * 1024;
  // The `route` label in metrics and logs; the pattern when empty.
  std::string metric_route{};
  // Counted against the per-address and per-token rate limits (429 beyond).
  // Off for probes and scrapes (/healthz, /readyz, /metrics).
  bool rate_limited = true;
};

class Router {
 public:
  // Adds a route. kInvalidArgument for a bad pattern, a duplicate
  // method+pattern, or not exactly one handler.
  Status Add(Route route);

  struct Match {
    const Route* route = nullptr;  // null: no route for this method
    std::vector<std::pair<std::string, std::string>> params;
    std::string allow;  // when route is null: methods the path has ("GET, HEAD"), or ""
  };
  // `method` HEAD matches GET routes. `path` is percent-encoded.
  Match Find(std::string_view method, std::string_view path) const;

  // "METHOD /pattern" in registration order.
  std::vector<std::string> List() const;

 private:
  struct Entry {
    Route route;
    std::vector<std::string> segments;
  };
  static bool MatchSegments(const std::vector<std::string>& pattern,
                            const std::vector<std::string_view>& path,
                            std::vector<std::pair<std::string, std::string>>* params);
  std::vector<Entry> entries_;
};

// Percent-decodes `s` ('+' stays '+' unless plus_as_space). Invalid escapes
// are kept as they are.
std::string PercentDecode(std::string_view s, bool plus_as_space = false);

}  // namespace photo::http
