// Operator routes: queue depth and consumers per stage, parked jobs, replay.
// They need the admin token (docs/api.md "Admin routes"); the broker side is
// broker::Operations (ApiDeps::operations), absent in tests that do not need
// it (then 501).
#include "photo/http/auth.h"
#include "photo/http/responses.h"
#include "photo/http/routes.h"
#include "photo/http/webapp_glue.h"
#include "photo/webapp/app_api.h"

namespace photo::http {
namespace {

template <typename Fn>
Handler Admin(ApiContext& ctx, Fn fn) {
  return [&ctx, fn](const Request& req) -> Response {
    if (auto refused = RequireAdmin(ctx, req)) return std::move(*refused);
    if (ctx.operations == nullptr)
      return ErrorResponse(501, "not_supported", "this server has no broker operations");
    return ToResponse(fn(*ctx.operations, req));
  };
}

}  // namespace

Status RegisterAdminRoutes(Router& router, ApiContext& ctx) {
  RETURN_IF_ERROR(router.Add({.method = "GET",
                              .pattern = "/admin/queues",
                              .handler = Admin(ctx, [](broker::Operations& ops, const Request&) {
                                return webapp::QueuesReply(ops);
                              })}));
  RETURN_IF_ERROR(router.Add({.method = "GET",
                              .pattern = "/admin/parked",
                              .handler = Admin(ctx, [](broker::Operations& ops, const Request& req) {
                                return webapp::ParkedReply(ops, QueryOf(req, {"stage", "limit"}));
                              })}));
  return router.Add({.method = "POST",
                     .pattern = "/admin/parked/{stage}/{message_id}/replay",
                     .handler = Admin(ctx, [](broker::Operations& ops, const Request& req) {
                       return webapp::ReplayReply(ops, req.Param("stage"), req.Param("message_id"));
                     })});
}

}  // namespace photo::http
