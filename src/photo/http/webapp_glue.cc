#include "photo/http/webapp_glue.h"

#include "photo/http/auth.h"
#include "photo/http/responses.h"
#include "photo/http/routes.h"
#include "photo/store/record_json.h"

namespace photo::http {

Response ToResponse(webapp::Reply r) {
  Response res;
  res.status = r.status;
  for (auto& [k, v] : r.headers) res.headers.Set(std::move(k), std::move(v));
  if (!r.body.empty() || r.status != 304) {
    res.headers.Set("Content-Type", std::move(r.content_type));
    res.body = std::move(r.body);
  }
  return res;
}

webapp::Query QueryOf(const Request& req, std::initializer_list<const char*> names) {
  webapp::Query q;
  for (const char* n : names)
    if (auto v = req.QueryValue(n)) q[n] = *v;
  return q;
}

std::string RecordJson(const ApiContext& ctx, const store::ImageRecord& record) {
  nlohmann::json j = store::RecordToApiJson(record);
  SignUrls(ctx, j);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::optional<Response> RequireAdmin(const ApiContext& ctx, const Request& req) {
  // No admin token configured: admin routes are closed (CONTRACT.md).
  if (ctx.config.admin_token.empty())
    return UnauthorizedResponse("admin routes are closed: PHOTO_PIPELINE_ADMIN_TOKEN is not set");
  if (!HasToken(req, ctx.config.admin_token))
    return UnauthorizedResponse("this route needs 'Authorization: Bearer <admin token>'");
  return std::nullopt;
}

}  // namespace photo::http
