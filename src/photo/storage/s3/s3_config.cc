#include "photo/storage/s3/s3_config.h"

#include <charconv>
#include <cstdlib>

namespace photo::storage {
namespace {

const char* Env(const char* name) {
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? v : nullptr;
}

Status Bad(std::string message) { return InvalidArgumentError("bad_setting", std::move(message)); }

template <typename T>
Status EnvNumber(const char* name, T lo, T hi, T& out) {
  const char* v = Env(name);
  if (v == nullptr) return Status::Ok();
  std::string_view s(v);
  T n{};
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || p != s.data() + s.size() || n < lo || n > hi)
    return Bad(std::string(name) + " must be an integer in [" + std::to_string(lo) + ", " +
               std::to_string(hi) + "], got '" + v + "'");
  out = n;
  return Status::Ok();
}

bool ValidBucket(std::string_view b) {
  if (b.size() < 3 || b.size() > 63) return false;
  for (char c : b)
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) return false;
  return b.front() != '.' && b.front() != '-' && b.back() != '.' && b.back() != '-';
}

}  // namespace

Result<S3Config> S3Config::FromEnv(std::string_view url) {
  S3Config c;
  constexpr std::string_view kScheme = "s3://";
  if (!url.starts_with(kScheme))
    return Bad("PHOTO_PIPELINE_STORAGE must be s3://bucket[/prefix], got '" + std::string(url) + "'");
  std::string_view rest = url.substr(kScheme.size());
  const auto slash = rest.find('/');
  c.bucket = std::string(rest.substr(0, slash));
  if (slash != std::string_view::npos) {
    std::string_view prefix = rest.substr(slash + 1);
    while (prefix.starts_with('/')) prefix.remove_prefix(1);
    c.prefix = std::string(prefix);
    if (!c.prefix.empty() && !c.prefix.ends_with('/')) c.prefix += '/';
  }
  if (const char* v = Env("PHOTO_PIPELINE_S3_ENDPOINT")) c.endpoint = v;
  while (c.endpoint.ends_with('/')) c.endpoint.pop_back();
  if (const char* v = Env("PHOTO_PIPELINE_S3_REGION")) c.region = v;
  if (const char* v = Env("AWS_ACCESS_KEY_ID")) c.access_key = v;
  if (const char* v = Env("AWS_SECRET_ACCESS_KEY")) c.secret_key = v;
  if (const char* v = Env("AWS_SESSION_TOKEN")) c.session_token = v;
  RETURN_IF_ERROR(EnvNumber<std::uint64_t>("PHOTO_PIPELINE_S3_MULTIPART_THRESHOLD", 1,
                                           5ull << 30, c.multipart_threshold));
  // S3 allows parts of 5 MiB and up; smaller ones serve tests against a
  // gateway configured for them.
  RETURN_IF_ERROR(EnvNumber<std::uint64_t>("PHOTO_PIPELINE_S3_PART_SIZE", 64ull << 10,
                                           5ull << 30, c.part_size));
  RETURN_IF_ERROR(EnvNumber("PHOTO_PIPELINE_S3_ATTEMPTS", 1, 100, c.attempts));
  RETURN_IF_ERROR(EnvNumber("PHOTO_PIPELINE_S3_BACKOFF_MS", 1, 60'000, c.backoff_ms));
  RETURN_IF_ERROR(EnvNumber("PHOTO_PIPELINE_S3_TIMEOUT_MS", 100, 3'600'000, c.timeout_ms));
  RETURN_IF_ERROR(c.Validate());
  return c;
}

Status S3Config::Validate() const {
  if (!ValidBucket(bucket))
    return Bad("PHOTO_PIPELINE_STORAGE: '" + bucket +
               "' is not a valid bucket name (3-63 characters of a-z 0-9 . -)");
  if (endpoint.empty())
    return Bad("PHOTO_PIPELINE_S3_ENDPOINT is required with PHOTO_PIPELINE_STORAGE=s3://... "
               "(e.g. http://127.0.0.1:7480)");
  if (!endpoint.starts_with("http://") && !endpoint.starts_with("https://"))
    return Bad("PHOTO_PIPELINE_S3_ENDPOINT must start with http:// or https://, got '" +
               endpoint + "'");
  if (endpoint.find('/', endpoint.find("//") + 2) != std::string::npos)
    return Bad("PHOTO_PIPELINE_S3_ENDPOINT is scheme://host[:port] without a path, got '" +
               endpoint + "'");
  if (region.empty()) return Bad("PHOTO_PIPELINE_S3_REGION must not be empty");
  if (access_key.empty() || secret_key.empty())
    return Bad("AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are required with "
               "PHOTO_PIPELINE_STORAGE=s3://...");
  for (char ch : prefix)
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '.' || ch == '_' || ch == '-' || ch == '/'))
      return Bad("PHOTO_PIPELINE_STORAGE: the prefix '" + prefix +
                 "' may hold only A-Z a-z 0-9 . _ - /");
  return Status::Ok();
}

}  // namespace photo::storage
