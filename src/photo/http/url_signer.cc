#include "photo/http/url_signer.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <charconv>

#include "photo/http/request.h"

namespace photo::http {

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
  Request q;
  q.query = std::string(query);
  std::optional<std::string> exp = q.QueryValue("exp");
  std::optional<std::string> sig = q.QueryValue("sig");
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

}  // namespace photo::http
