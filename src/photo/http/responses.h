// Building answers: JSON bodies, the error shape {"error": {"code",
// "message"}}, and the Status -> HTTP status table of docs/api.md.
#pragma once

#include <nlohmann/json.hpp>
#include <string_view>

#include "photo/core/status.h"
#include "photo/http/request.h"

namespace photo::http {

inline constexpr char kJsonType[] = "application/json";

Response JsonResponse(int status, const nlohmann::json& body);
std::string ErrorBody(std::string_view code, std::string_view message);
Response ErrorResponse(int status, std::string_view code, std::string_view message);

// The public HTTP status for a failure: by its reason first (one code can
// mean two answers), then by its code.
int HttpStatusFor(const Status& s);

// The store or the broker could take it later (503 + Retry-After), as
// opposed to a corrupt record or a bug (500).
bool IsUnavailable(const Status& s);

// `s` as an error answer with status `http`: 503 carries Retry-After:
// retry_after_s; 5xx answers get a fixed message (details go to the log).
Response StatusResponse(const Status& s, int http, int retry_after_s);

}  // namespace photo::http
