// Request, Response and ResponseStream: what a route handler sees of HTTP.
// Plain standard types (no Boost in this header), so route files compile
// fast and tests can build them by hand. The server (server.h) fills a
// Request from the wire and writes a Response back.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace photo::http {

// Header fields in arrival order; names compared case-insensitively.
class Headers {
 public:
  // The first value of `name`, or "" when absent.
  std::string_view Get(std::string_view name) const;
  bool Has(std::string_view name) const;
  // Adds a field (a second Add of the same name adds a second line).
  void Add(std::string name, std::string value);
  // Replaces every field called `name` with one.
  void Set(std::string name, std::string value);
  void Remove(std::string_view name);
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

bool EqualsIgnoreCase(std::string_view a, std::string_view b);

struct Request {
  std::string method;  // "GET", "POST", ... ("HEAD" is routed to GET routes)
  std::string target;  // as sent: "/images/ab/thumb?x=1"
  std::string path;    // target before '?', still percent-encoded
  std::string query;   // after '?', "" if none
  Headers headers;
  std::string remote_address;  // "127.0.0.1", "::1"
  int version = 11;            // 10 = HTTP/1.0, 11 = HTTP/1.1

  // Path parameters by name, percent-decoded ("/images/{id}/{rendition}").
  std::vector<std::pair<std::string, std::string>> params;
  // The route pattern that matched ("/images/{id}/{rendition}").
  std::string route;

  std::string_view Param(std::string_view name) const;
  // The first value of a query parameter, percent- and '+'-decoded.
  std::optional<std::string> QueryValue(std::string_view name) const;
};

// A long-lived response body written piece by piece (Server-Sent Events,
// progress streams). Sent with chunked transfer encoding. Thread-safe: any
// thread may call Write/End; the bytes go out in call order on the
// connection's own I/O strand.
class ResponseStream {
 public:
  virtual ~ResponseStream() = default;
  // Queues `data` as one chunk. False when the client is gone, the server is
  // stopping or more than the stream's bound (1 MiB) is waiting unsent: the
  // connection is then closed and later writes are dropped.
  virtual bool Write(std::string data) = 0;
  // Ends the body (last chunk); the connection may then serve the next
  // request. Idempotent.
  virtual void End() = 0;
  // True once the client disconnected, the server stopped, or End() ran.
  virtual bool closed() const = 0;
  // `cb` runs once on an I/O thread when the stream closes for any reason
  // (immediately if already closed). Must not block.
  virtual void OnClose(std::function<void()> cb) = 0;
};

// Called once on an I/O thread right after the response head is sent. Must
// not block: hand the stream to your own producer (a thread, a hub) and
// return.
using StreamStarter = std::function<void(std::shared_ptr<ResponseStream>)>;

// A regular file to send as the body (opened by the handler, closed by the
// server when the response is done).
class FileBody {
 public:
  FileBody(int fd, std::uint64_t offset, std::uint64_t length)
      : fd_(fd), offset_(offset), length_(length) {}
  ~FileBody();
  FileBody(const FileBody&) = delete;
  FileBody& operator=(const FileBody&) = delete;
  int fd() const { return fd_; }
  std::uint64_t offset() const { return offset_; }
  std::uint64_t length() const { return length_; }

 private:
  int fd_;
  std::uint64_t offset_;
  std::uint64_t length_;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;                 // used unless `file` or `stream` is set
  std::shared_ptr<FileBody> file;   // Content-Length = file->length()
  StreamStarter stream;             // chunked; status/headers sent first
  // Close the connection after this answer (the request body was not read
  // to its end, or the client asked).
  bool close = false;
};

}  // namespace photo::http
