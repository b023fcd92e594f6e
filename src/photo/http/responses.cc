#include "photo/http/responses.h"

#include <spdlog/spdlog.h>

#include "photo/core/text.h"

namespace photo::http {

Response JsonResponse(int status, const nlohmann::json& body) {
  Response res;
  res.status = status;
  res.headers.Set("Content-Type", kJsonType);
  res.body = body.dump();
  return res;
}

std::string ErrorBody(std::string_view code, std::string_view message) {
  // Messages may quote library text (libvips on a rejected upload): bounded.
  nlohmann::json j = {{"error", {{"code", code}, {"message", BoundedErrorText(message)}}}};
  // Messages may carry client bytes (filenames): never fail on bad UTF-8.
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Response ErrorResponse(int status, std::string_view code, std::string_view message) {
  Response res;
  res.status = status;
  res.headers.Set("Content-Type", kJsonType);
  res.body = ErrorBody(code, message);
  return res;
}

int HttpStatusFor(const Status& s) {
  const std::string& r = s.reason();
  if (r == "unsupported_media_type" || r == "corrupt_image") return 415;
  if (r == "empty_file" || r == "missing_file" || r == "malformed_multipart" || r == "too_many_files" ||
      r == "malformed_body") {
    return 400;
  }
  if (r == "too_large" || r == "too_many_pixels" || r == "too_many_frames") return 413;
  if (r == "unauthorized") return 401;
  if (r == "forbidden") return 403;
  if (r == "rate_limited") return 429;
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

bool IsUnavailable(const Status& s) {
  return s.code() == StatusCode::kUnavailable || s.code() == StatusCode::kDeadlineExceeded;
}

namespace {
std::string PublicMessage(const Status& s, int http) {
  if (s.reason() == "broker_unavailable") return "the job queue cannot take the job; retry later";
  if (s.reason() == "store_unavailable") return "the status store is unavailable; retry later";
  if (s.reason() == "disk_full") return "no space left to store the upload; retry later";
  return http == 503 ? "temporarily unavailable; retry later" : "internal error";
}
}  // namespace

Response StatusResponse(const Status& s, int http, int retry_after_s) {
  if (http >= 500) spdlog::warn("http: {} -> {}", s.ToString(), http);
  Response res = ErrorResponse(http, s.reason().empty() ? "internal" : s.reason(),
                               http >= 500 ? PublicMessage(s, http) : s.message());
  if (http == 503) res.headers.Set("Retry-After", std::to_string(retry_after_s));
  return res;
}

}  // namespace photo::http
