// Serving a file from disk: ETag/If-None-Match, single byte ranges (206,
// 416), the body streamed by the server from the open descriptor.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "photo/http/request.h"

namespace photo::http {

// RFC 9110 If-None-Match: "*" or a list of entity tags, compared weakly.
bool IfNoneMatchHits(std::string_view header, std::string_view etag);

// A strong ETag for a file written once and never modified in place:
// `identity` (e.g. "<id>/<rendition>") plus size and mtime.
std::string FileETag(std::string_view identity, std::uint64_t size, std::int64_t mtime_sec, std::int64_t mtime_nsec);

// The answer for an open regular file `fd` (taken over: closed when the
// answer is done) of `size` bytes: 200 with the whole file, 206 for a
// satisfiable single "Range: bytes=..." (several ranges: the whole file),
// 416 for an unsatisfiable one. Sets Content-Type, Accept-Ranges and
// Content-Range; the caller adds ETag and cache headers.
Response FileResponse(const Request& req, int fd, std::uint64_t size, std::string content_type);

}  // namespace photo::http
