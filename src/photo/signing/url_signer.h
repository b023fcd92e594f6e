// Signed rendition URLs (as imgproxy and thumbor do): a path is valid until
// `exp` when `sig` = hex(HMAC-SHA256(key, path + "\n" + exp)). Two keys are
// accepted at once so the key can be rotated without breaking links that are
// out there: new links are signed with the current key, links signed with the
// previous key keep working until they expire.
//
// Its own library: the API verifies and signs record URLs, the workers sign
// the URLs of the events they publish, and neither drags the other in.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <string_view>

#include "photo/core/status.h"

namespace photo::signing {

class UrlSigner {
 public:
  // `key` empty: signing is off (Sign returns the path unchanged, Verify
  // says kMissing). `previous_key` is only ever verified, never used to
  // sign. `ttl_s`: lifetime of a new link.
  UrlSigner(std::string key, std::string previous_key, std::int64_t ttl_s);

  bool enabled() const { return !key_.empty(); }

  // "/images/<id>/<rendition>" -> the same path + "?exp=<unix s>&sig=<hex>".
  std::string Sign(std::string_view path, std::int64_t now_s) const;

  enum class Check { kMissing, kValid, kExpired, kInvalid };
  // Checks the exp/sig parameters of `query` for `path` (decoded, as it was
  // signed). kMissing: neither parameter present.
  Check Verify(std::string_view path, std::string_view query, std::int64_t now_s) const;

 private:
  std::string key_;
  std::string previous_key_;
  std::int64_t ttl_s_;
};

// hex(HMAC-SHA256(key, message)), 64 lowercase hex digits.
std::string HmacSha256Hex(std::string_view key, std::string_view message);

// The settings every process that signs or verifies links shares (the API
// and the workers must agree on them):
//   PHOTO_PIPELINE_SIGNING_KEY (or _FILE)           key; empty = unsigned URLs
//   PHOTO_PIPELINE_SIGNING_KEY_PREVIOUS (or _FILE)  still verified, never signs
//   PHOTO_PIPELINE_SIGNED_URL_TTL                   lifetime of a new link, s
struct SigningSettings {
  std::string key;
  std::string previous_key;
  std::int64_t ttl_s = 86400;

  UrlSigner Signer() const { return UrlSigner(key, previous_key, ttl_s); }
};

using EnvLookup = std::function<const char*(const char*)>;

// Overlays the variables above onto `settings` (unset ones keep their
// value). kInvalidArgument("bad_config") naming the variable when one is
// malformed, or a previous key is set without a current one; `settings` is
// unchanged then.
Status LoadSigningSettings(const EnvLookup& env, SigningSettings* settings);

// With signing on, replaces every "url" of a record's `renditions` object
// (name -> {url, ...}) by its signed form; otherwise leaves it alone.
void SignRenditionUrls(const UrlSigner& signer, nlohmann::json& renditions, std::int64_t now_s);

}  // namespace photo::signing
