#include "photo/http/auth.h"

#include <openssl/crypto.h>

#include <cctype>

#include "photo/http/responses.h"

namespace photo::http {

std::optional<std::string_view> BearerToken(const Request& req) {
  std::string_view h = req.headers.Get("Authorization");
  constexpr std::string_view kScheme = "bearer ";
  if (h.size() < kScheme.size()) return std::nullopt;
  for (size_t i = 0; i < kScheme.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(h[i])) != kScheme[i]) return std::nullopt;
  }
  return h.substr(kScheme.size());
}

bool TokensEqual(std::string_view presented, std::string_view expected) {
  if (presented.size() != expected.size()) return false;
  return CRYPTO_memcmp(presented.data(), expected.data(), expected.size()) == 0;
}

bool HasToken(const Request& req, std::string_view expected) {
  if (expected.empty()) return false;
  std::optional<std::string_view> t = BearerToken(req);
  return t && TokensEqual(*t, expected);
}

Response UnauthorizedResponse(std::string_view message) {
  Response res = ErrorResponse(401, "unauthorized", message);
  res.headers.Set("WWW-Authenticate", "Bearer realm=\"photo-pipeline\"");
  return res;
}

}  // namespace photo::http
