#include "photo/signing/url_signer.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>

#include "photo/core/secrets.h"

namespace photo::signing {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded decoding ('+' is a space); a malformed
// escape stays as it is.
std::string FormDecode(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && HexDigit(s[i + 1]) >= 0 && HexDigit(s[i + 2]) >= 0) {
      out += static_cast<char>(HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2]));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

// The value of the first `name` parameter of `query`.
std::optional<std::string> QueryValue(std::string_view query, std::string_view name) {
  while (!query.empty()) {
    const std::size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const std::size_t eq = pair.find('=');
    if (FormDecode(pair.substr(0, eq)) == name) {
      return eq == std::string_view::npos ? std::string() : FormDecode(pair.substr(eq + 1));
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

}  // namespace

std::string HmacSha256Hex(std::string_view key, std::string_view message) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const unsigned char*>(message.data()),
       message.size(), mac, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(len * 2);
  for (unsigned int i = 0; i < len; ++i) {
    out.push_back(kHex[mac[i] >> 4]);
    out.push_back(kHex[mac[i] & 0xf]);
  }
  return out;
}

UrlSigner::UrlSigner(std::string key, std::string previous_key, std::int64_t ttl_s)
    : key_(std::move(key)), previous_key_(std::move(previous_key)), ttl_s_(ttl_s) {}

std::string UrlSigner::Sign(std::string_view path, std::int64_t now_s) const {
  if (!enabled()) return std::string(path);
  const std::string exp = std::to_string(now_s + ttl_s_);
  return std::string(path) + "?exp=" + exp + "&sig=" + HmacSha256Hex(key_, std::string(path) + "\n" + exp);
}

UrlSigner::Check UrlSigner::Verify(std::string_view path, std::string_view query, std::int64_t now_s) const {
  std::optional<std::string> exp = QueryValue(query, "exp");
  std::optional<std::string> sig = QueryValue(query, "sig");
  if (!exp && !sig) return Check::kMissing;
  if (!exp || !sig || !enabled() || sig->size() != 64) return Check::kInvalid;
  std::int64_t expires = 0;
  auto [end, ec] = std::from_chars(exp->data(), exp->data() + exp->size(), expires);
  if (ec != std::errc() || end != exp->data() + exp->size()) return Check::kInvalid;
  const std::string message = std::string(path) + "\n" + *exp;
  bool valid = false;
  for (const std::string* key : {&key_, &previous_key_}) {
    if (key->empty()) continue;
    const std::string want = HmacSha256Hex(*key, message);
    valid |= CRYPTO_memcmp(want.data(), sig->data(), want.size()) == 0;
  }
  // An expired link is only reported as such when its signature is right:
  // anything else would tell a forger which part was wrong.
  if (!valid) return Check::kInvalid;
  return expires < now_s ? Check::kExpired : Check::kValid;
}

Status LoadSigningSettings(const EnvLookup& env, SigningSettings* settings) {
  SigningSettings s = *settings;
  RETURN_IF_ERROR(ReadSecretSetting(env, "PHOTO_PIPELINE_SIGNING_KEY", &s.key));
  RETURN_IF_ERROR(ReadSecretSetting(env, "PHOTO_PIPELINE_SIGNING_KEY_PREVIOUS", &s.previous_key));
  if (const char* v = env("PHOTO_PIPELINE_SIGNED_URL_TTL"); v != nullptr && *v != '\0') {
    std::int64_t ttl = 0;
    const std::string_view text(v);
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), ttl);
    constexpr std::int64_t kMaxTtl = 10LL * 365 * 86400;
    if (ec != std::errc() || end != text.data() + text.size() || ttl < 1 || ttl > kMaxTtl) {
      return InvalidArgumentError("bad_config", "PHOTO_PIPELINE_SIGNED_URL_TTL=" + std::string(text) +
                                                    ": expected an integer in [1, " + std::to_string(kMaxTtl) + "]");
    }
    s.ttl_s = ttl;
  }
  if (!s.previous_key.empty() && s.key.empty()) {
    return InvalidArgumentError("bad_config",
                                "PHOTO_PIPELINE_SIGNING_KEY_PREVIOUS is set without PHOTO_PIPELINE_SIGNING_KEY");
  }
  *settings = std::move(s);
  return Status::Ok();
}

void SignRenditionUrls(const UrlSigner& signer, nlohmann::json& renditions, std::int64_t now_s) {
  if (!signer.enabled() || !renditions.is_object()) return;
  for (auto& [name, r] : renditions.items()) {
    if (r.is_object() && r.contains("url") && r["url"].is_string()) {
      r["url"] = signer.Sign(r["url"].get<std::string>(), now_s);
    }
  }
}

}  // namespace photo::signing
