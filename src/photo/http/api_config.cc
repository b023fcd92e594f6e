#include "photo/http/api_config.h"

#include <cctype>
#include <charconv>
#include <cstdlib>
#include <limits>

#include "photo/core/files.h"
#include "photo/core/secrets.h"
#include "photo/core/text.h"
#include "photo/signing/url_signer.h"

namespace photo::http {
namespace {

Status Bad(std::string message) { return InvalidArgumentError("bad_config", std::move(message)); }

template <typename T>
Status ParseNumber(const char* var, std::string_view text, T min, T max, T* out) {
  T v{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || v < min || v > max) {
    return Bad(std::string(var) + "=" + std::string(text) + ": expected an integer in [" +
               std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  *out = v;
  return Status::Ok();
}

Status ParseBool(const char* var, std::string_view text, bool* out) {
  const std::optional<bool> v = ParseBoolSetting(text);
  if (!v) return Bad(std::string(var) + "=" + std::string(text) + ": expected 1/0 or true/false");
  *out = *v;
  return Status::Ok();
}

}  // namespace

EnvLookup ProcessEnv() {
  return [](const char* name) -> const char* { return std::getenv(name); };
}

Status ApiConfig::LoadFromEnv(const EnvLookup& env) {
  ApiConfig c = *this;  // all or nothing
  auto get = [&](const char* name) -> const char* {
    const char* v = env(name);
    return (v != nullptr && *v != '\0') ? v : nullptr;
  };
  if (const char* v = get("PHOTO_PIPELINE_LISTEN")) {
    Status s = ParseListen(v, &c.host, &c.port);
    if (!s.ok()) return Bad("PHOTO_PIPELINE_LISTEN: " + s.message());
  }
  if (const char* v = get("PHOTO_PIPELINE_DATA_DIR")) c.data_dir = v;
  constexpr auto kU64Max = std::numeric_limits<std::uint64_t>::max();
  if (const char* v = get("PHOTO_PIPELINE_MAX_BYTES")) {
    RETURN_IF_ERROR(ParseNumber<std::uint64_t>("PHOTO_PIPELINE_MAX_BYTES", v, 1,
                                               kU64Max / 2, &c.limits.max_bytes));
  }
  if (const char* v = get("PHOTO_PIPELINE_MAX_PIXELS")) {
    RETURN_IF_ERROR(ParseNumber<std::uint64_t>("PHOTO_PIPELINE_MAX_PIXELS", v, 1, kU64Max,
                                               &c.limits.max_pixels));
  }
  if (const char* v = get("PHOTO_PIPELINE_MAX_FRAMES")) {
    RETURN_IF_ERROR(ParseNumber("PHOTO_PIPELINE_MAX_FRAMES", v, 1, 1'000'000, &c.limits.max_frames));
  }
  if (const char* v = get("PHOTO_PIPELINE_HTTP_MULTIPART_OVERHEAD")) {
    RETURN_IF_ERROR(ParseNumber<std::uint64_t>("PHOTO_PIPELINE_HTTP_MULTIPART_OVERHEAD", v, 0,
                                               kU64Max / 2, &c.multipart_overhead));
  }
  struct IntSetting {
    const char* var;
    int min;
    int max;
    int* out;
  };
  for (const IntSetting& i : {
           IntSetting{"PHOTO_PIPELINE_HTTP_THREADS", 1, 1024, &c.threads},
           IntSetting{"PHOTO_PIPELINE_S3_PRESIGN_TTL", 0, 604800, &c.presign_ttl_s},
           IntSetting{"PHOTO_PIPELINE_HTTP_IO_THREADS", 1, 64, &c.io_threads},
           IntSetting{"PHOTO_PIPELINE_HTTP_HEAD_TIMEOUT", 1, 3600, &c.head_timeout_s},
           IntSetting{"PHOTO_PIPELINE_HTTP_READ_TIMEOUT", 1, 3600, &c.read_timeout_s},
           IntSetting{"PHOTO_PIPELINE_HTTP_WRITE_TIMEOUT", 1, 3600, &c.write_timeout_s},
           IntSetting{"PHOTO_PIPELINE_HTTP_KEEP_ALIVE_TIMEOUT", 0, 3600, &c.keep_alive_timeout_s},
           IntSetting{"PHOTO_PIPELINE_HTTP_BODY_RATE_GRACE", 0, 3600, &c.body_rate_grace_s},
           IntSetting{"PHOTO_PIPELINE_HTTP_MAX_CONNECTIONS", 1, 1'000'000, &c.max_connections},
           IntSetting{"PHOTO_PIPELINE_HTTP_MAX_CONNECTIONS_PER_CLIENT", 0, 1'000'000,
                      &c.max_connections_per_client},
       }) {
    if (const char* v = get(i.var)) RETURN_IF_ERROR(ParseNumber(i.var, v, i.min, i.max, i.out));
  }
  if (const char* v = get("PHOTO_PIPELINE_HTTP_MAX_HEADER_BYTES")) {
    RETURN_IF_ERROR(ParseNumber<std::uint64_t>("PHOTO_PIPELINE_HTTP_MAX_HEADER_BYTES", v, 1024, 1u << 20,
                                               &c.max_header_bytes));
  }
  if (const char* v = get("PHOTO_PIPELINE_HTTP_MIN_BODY_RATE")) {
    RETURN_IF_ERROR(ParseNumber<std::uint64_t>("PHOTO_PIPELINE_HTTP_MIN_BODY_RATE", v, 0, 1u << 30,
                                               &c.min_body_rate));
  }
  RETURN_IF_ERROR(ReadSecretSetting(env, "PHOTO_PIPELINE_API_TOKEN", &c.api_token));  // "" = auth off
  RETURN_IF_ERROR(ReadSecretSetting(env, "PHOTO_PIPELINE_ADMIN_TOKEN", &c.admin_token));
  // Shared with the workers, which sign the URLs of their events.
  RETURN_IF_ERROR(signing::LoadSigningSettings(env, &c.signing));
  if (const char* v = get("PHOTO_PIPELINE_ORIGINALS_PUBLIC")) {
    RETURN_IF_ERROR(ParseBool("PHOTO_PIPELINE_ORIGINALS_PUBLIC", v, &c.originals_public));
  }
  if (const char* v = get("PHOTO_PIPELINE_RENDITIONS_PUBLIC")) {
    RETURN_IF_ERROR(ParseBool("PHOTO_PIPELINE_RENDITIONS_PUBLIC", v, &c.renditions_public));
  }
  if (const char* v = env("PHOTO_PIPELINE_CORS_ORIGINS")) {
    c.cors_origins.clear();
    std::string_view list = v;
    while (!list.empty()) {
      size_t comma = list.find(',');
      std::string_view item = list.substr(0, comma);
      while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
      while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
      while (!item.empty() && item.back() == '/') item.remove_suffix(1);  // origins have no path
      if (!item.empty()) c.cors_origins.emplace_back(item);
      if (comma == std::string_view::npos) break;
      list.remove_prefix(comma + 1);
    }
  }
  struct RateSetting {
    const char* var;
    double* out;
  };
  for (const RateSetting& r : {RateSetting{"PHOTO_PIPELINE_RATE_LIMIT", &c.rate_per_client},
                               RateSetting{"PHOTO_PIPELINE_RATE_BURST", &c.burst_per_client},
                               RateSetting{"PHOTO_PIPELINE_TOKEN_RATE_LIMIT", &c.rate_per_token},
                               RateSetting{"PHOTO_PIPELINE_TOKEN_RATE_BURST", &c.burst_per_token}}) {
    if (const char* v = get(r.var)) {
      char* end = nullptr;
      const double d = std::strtod(v, &end);
      if (end == v || *end != '\0' || !(d >= 0) || d > 1e9) {
        return Bad(std::string(r.var) + "=" + v + ": expected a number >= 0");
      }
      *r.out = d;
    }
  }
  if (const char* v = get("PHOTO_PIPELINE_RETRY_AFTER")) {
    RETURN_IF_ERROR(ParseNumber("PHOTO_PIPELINE_RETRY_AFTER", v, 1, 86400, &c.retry_after_s));
  }
  if (const char* v = get("PHOTO_PIPELINE_ACCESS_LOG")) {
    RETURN_IF_ERROR(ParseBool("PHOTO_PIPELINE_ACCESS_LOG", v, &c.access_log));
  }
  *this = std::move(c);
  return Status::Ok();
}

Status ApiConfig::Validate() const {
  if (host.empty()) return Bad("listen host is empty");
  if (port < 0 || port > 65535) return Bad("listen port " + std::to_string(port) + " out of range");
  if (data_dir.empty()) return Bad("data dir is empty");
  if (limits.max_bytes == 0) return Bad("max bytes must be > 0");
  if (limits.max_pixels == 0) return Bad("max pixels must be > 0");
  if (limits.max_frames < 1) return Bad("max frames must be >= 1");
  if (threads < 1 || threads > 1024) return Bad("http threads must be in [1, 1024]");
  if (io_threads < 1 || io_threads > 64) return Bad("http I/O threads must be in [1, 64]");
  if (read_timeout_s < 1 || write_timeout_s < 1 || head_timeout_s < 1) return Bad("http timeouts must be >= 1 s");
  if (max_header_bytes < 1024) return Bad("max header bytes must be >= 1024");
  if (max_connections < 1 || max_connections_per_client < 0) return Bad("connection limits must be >= 1 (per client: >= 0)");
  if (body_rate_grace_s < 0) return Bad("body rate grace must be >= 0");
  if (keep_alive_timeout_s < 0) return Bad("keep-alive timeout must be >= 0");
  if (retry_after_s < 1) return Bad("retry-after must be >= 1 s");
  for (const std::string* token : {&api_token, &admin_token}) {
    for (unsigned char ch : *token) {
      // A header value must survive the trip: visible ASCII, no spaces.
      if (ch <= 0x20 || ch >= 0x7f) return Bad("tokens must be visible ASCII without spaces");
    }
  }
  if (!admin_token.empty() && admin_token == api_token) {
    return Bad("PHOTO_PIPELINE_ADMIN_TOKEN must differ from PHOTO_PIPELINE_API_TOKEN");
  }
  if (!renditions_public && signing.key.empty()) {
    return Bad("PHOTO_PIPELINE_RENDITIONS_PUBLIC=0 needs PHOTO_PIPELINE_SIGNING_KEY (no link could be valid)");
  }
  if (!signing.previous_key.empty() && signing.key.empty()) {
    return Bad("PHOTO_PIPELINE_SIGNING_KEY_PREVIOUS is set without PHOTO_PIPELINE_SIGNING_KEY");
  }
  if (signing.ttl_s < 1) return Bad("signed URL TTL must be >= 1 s");
  if (rate_per_client < 0 || rate_per_token < 0 || burst_per_client < 0 || burst_per_token < 0) {
    return Bad("rate limits must be >= 0");
  }
  return Status::Ok();
}

}  // namespace photo::http
