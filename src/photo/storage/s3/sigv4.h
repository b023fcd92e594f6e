// AWS Signature Version 4 pieces that libcurl does not provide: presigned
// (query-string) URLs. Requests themselves are signed by libcurl
// (CURLOPT_AWS_SIGV4); this is only for URLs handed to someone else.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace photo::storage {

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters kept,
// everything else %XX (upper-case hex); '/' kept when `keep_slash`.
std::string UriEncode(std::string_view s, bool keep_slash);

std::string HexSha256(std::string_view data);
std::string HexEncode(std::string_view bytes);
std::string Base64Md5(std::string_view data);

struct PresignRequest {
  std::string endpoint;  // http(s)://host[:port]
  std::string path;      // already URI-encoded, e.g. /bucket/images/ab/id/thumb.jpg
  std::string region;
  std::string access_key;
  std::string secret_key;
  std::string session_token;  // empty = none
  std::int64_t now_unix = 0;
  int expires_seconds = 900;  // 1 .. 604800 (7 days, S3's limit)
};

// A presigned GET URL (X-Amz-Algorithm=AWS4-HMAC-SHA256 in the query,
// payload UNSIGNED-PAYLOAD, only the host header signed).
std::string PresignGetUrl(const PresignRequest& r);

}  // namespace photo::storage
