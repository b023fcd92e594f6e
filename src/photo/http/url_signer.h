// Signed rendition URLs (as imgproxy and thumbor do): a path is valid until
// `exp` when `sig` = hex(HMAC-SHA256(key, path + "\n" + exp)). Two keys are
// accepted at once so the key can be rotated without breaking links that are
// out there: new links are signed with the current key, links signed with the
// previous key keep working until they expire.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace photo::http {

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

}  // namespace photo::http
