// Bearer tokens: "Authorization: Bearer <token>", compared in constant time
// (OpenSSL's CRYPTO_memcmp) so answer timing does not reveal how much of a
// guessed token was right.
#pragma once

#include <optional>
#include <string_view>

#include "photo/http/request.h"

namespace photo::http {

// The token of an "Authorization: Bearer <token>" header (scheme
// case-insensitive), or nullopt.
std::optional<std::string_view> BearerToken(const Request& req);

// Constant-time for equal lengths; different lengths are unequal (the
// length of a token is no secret worth hiding).
bool TokensEqual(std::string_view presented, std::string_view expected);

// True when `expected` is non-empty and the request carries it.
bool HasToken(const Request& req, std::string_view expected);

// 401 unauthorized with WWW-Authenticate: Bearer.
Response UnauthorizedResponse(std::string_view message);

}  // namespace photo::http
