#include "photo/storage/s3/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <ctime>

namespace photo::storage {
namespace {

std::string Hmac(std::string_view key, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return std::string(reinterpret_cast<const char*>(out), len);
}

std::string Digest(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), out, &len, md, nullptr);
  return std::string(reinterpret_cast<const char*>(out), len);
}

// "YYYYMMDDTHHMMSSZ" (SigV4's X-Amz-Date).
std::string AmzDate(std::int64_t t) {
  std::time_t tt = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

}  // namespace

std::string UriEncode(std::string_view s, bool keep_slash) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    const bool unreserved = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                            (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' || c == '~';
    if (unreserved || (keep_slash && c == '/')) {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

std::string HexEncode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

std::string HexSha256(std::string_view data) { return HexEncode(Digest(EVP_sha256(), data)); }

std::string Base64Md5(std::string_view data) {
  const std::string md5 = Digest(EVP_md5(), data);
  unsigned char out[32];
  const int n = EVP_EncodeBlock(out, reinterpret_cast<const unsigned char*>(md5.data()),
                                static_cast<int>(md5.size()));
  return std::string(reinterpret_cast<const char*>(out), static_cast<std::size_t>(n));
}

std::string PresignGetUrl(const PresignRequest& r) {
  const std::string stamp = AmzDate(r.now_unix);
  const std::string date = stamp.substr(0, 8);
  const std::string scope = date + "/" + r.region + "/s3/aws4_request";
  const std::string host = r.endpoint.substr(r.endpoint.find("//") + 2);

  // Query parameters in byte order of their names, as canonical form wants.
  std::string query = "X-Amz-Algorithm=AWS4-HMAC-SHA256";
  query += "&X-Amz-Credential=" + UriEncode(r.access_key + "/" + scope, false);
  query += "&X-Amz-Date=" + stamp;
  query += "&X-Amz-Expires=" + std::to_string(r.expires_seconds);
  if (!r.session_token.empty())
    query += "&X-Amz-Security-Token=" + UriEncode(r.session_token, false);
  query += "&X-Amz-SignedHeaders=host";

  const std::string canonical = "GET\n" + r.path + "\n" + query + "\nhost:" + host +
                                "\n\nhost\nUNSIGNED-PAYLOAD";
  const std::string to_sign =
      "AWS4-HMAC-SHA256\n" + stamp + "\n" + scope + "\n" + HexSha256(canonical);
  std::string key = Hmac("AWS4" + r.secret_key, date);
  key = Hmac(key, r.region);
  key = Hmac(key, "s3");
  key = Hmac(key, "aws4_request");
  const std::string signature = HexEncode(Hmac(key, to_sign));
  return r.endpoint + r.path + "?" + query + "&X-Amz-Signature=" + signature;
}

}  // namespace photo::storage
