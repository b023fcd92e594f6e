#include "photo/http/file_response.h"

#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <memory>
#include <optional>

#include "photo/http/responses.h"

namespace photo::http {
namespace {

std::string_view TrimSpaces(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

std::optional<std::uint64_t> ParseU64(std::string_view s) {
  std::uint64_t v = 0;
  if (s.empty()) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

// FNV-1a 64: a stable, dependency-free digest for ETags.
std::uint64_t Fnv1a(std::string_view data) {
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : data) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

bool IfNoneMatchHits(std::string_view header, std::string_view etag) {
  while (!header.empty()) {
    size_t comma = header.find(',');
    std::string_view tag = TrimSpaces(header.substr(0, comma));
    if (tag == "*") return true;
    if (tag.substr(0, 2) == "W/") tag.remove_prefix(2);
    if (!tag.empty() && tag == etag) return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

std::string FileETag(std::string_view identity, std::uint64_t size, std::int64_t mtime_sec, std::int64_t mtime_nsec) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx",
                static_cast<unsigned long long>(Fnv1a(std::string(identity) + "/" + std::to_string(size) + "/" +
                                                      std::to_string(mtime_sec) + "." + std::to_string(mtime_nsec))));
  return "\"" + std::string(buf) + "\"";
}

Response FileResponse(const Request& req, int fd, std::uint64_t size, std::string content_type) {
  Response res;
  res.headers.Set("Content-Type", std::move(content_type));
  res.headers.Set("Accept-Ranges", "bytes");
  std::uint64_t first = 0;
  std::uint64_t length = size;
  std::string_view range = TrimSpaces(req.headers.Get("Range"));
  if (range.substr(0, 6) == "bytes=" && range.find(',') == std::string_view::npos) {
    std::string_view spec = TrimSpaces(range.substr(6));
    size_t dash = spec.find('-');
    if (dash != std::string_view::npos) {
      std::optional<std::uint64_t> a = ParseU64(TrimSpaces(spec.substr(0, dash)));
      std::optional<std::uint64_t> b = ParseU64(TrimSpaces(spec.substr(dash + 1)));
      bool valid = true;
      bool satisfiable = true;
      if (a) {  // "a-" or "a-b"
        if (b && *b < *a) valid = false;
        if (*a >= size) satisfiable = false;
        if (valid && satisfiable) {
          first = *a;
          const std::uint64_t last = b ? std::min(*b, size - 1) : size - 1;
          length = last - first + 1;
        }
      } else if (b) {  // "-n": the last n bytes
        if (*b == 0 || size == 0) satisfiable = false;
        if (satisfiable) {
          length = std::min(*b, size);
          first = size - length;
        }
      } else {
        valid = false;
      }
      if (valid && !satisfiable) {
        ::close(fd);
        Response r = ErrorResponse(416, "range_not_satisfiable", "the range is outside the file");
        r.headers.Set("Content-Range", "bytes */" + std::to_string(size));
        return r;
      }
      if (valid) {
        res.status = 206;
        res.headers.Set("Content-Range", "bytes " + std::to_string(first) + "-" +
                                             std::to_string(first + length - 1) + "/" + std::to_string(size));
      }
    }
  }
  res.file = std::make_shared<FileBody>(fd, first, length);
  return res;
}

}  // namespace photo::http
