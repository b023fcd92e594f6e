// The web app: GET / and GET /app/{file...} (the files of web/, embedded),
// and GET /images, the listing its gallery pages through. The route logic
// lives in webapp/app_api.h; this file maps it onto the router.
#include "photo/http/responses.h"
#include "photo/http/routes.h"
#include "photo/http/webapp_glue.h"
#include "photo/webapp/app_api.h"

namespace photo::http {

Status RegisterWebAppRoutes(Router& router, ApiContext& ctx) {
  // In memory and never blocking: answered on the I/O thread.
  RETURN_IF_ERROR(router.Add({.method = "GET",
                              .pattern = "/",
                              .handler = [](const Request& req) {
                                return ToResponse(webapp::AssetReply("/", req.headers.Get("If-None-Match")));
                              },
                              .inline_io = true}));
  RETURN_IF_ERROR(router.Add({.method = "GET",
                              .pattern = "/app/{file}",
                              .handler = [](const Request& req) {
                                return ToResponse(webapp::AssetReply(
                                    "/app/" + std::string(req.Param("file")), req.headers.Get("If-None-Match")));
                              },
                              .inline_io = true}));
  RETURN_IF_ERROR(router.Add(
      {.method = "GET", .pattern = "/images", .handler = [&ctx](const Request& req) {
         auto q = QueryOf(req, {"limit", "cursor", "status", "has_faces", "blurry"});
         return ToResponse(webapp::ListImagesReply(*ctx.store, q, [&ctx](const store::ImageRecord& r) {
           return RecordJson(ctx, r);
         }));
       }}));
  return Status::Ok();
}

}  // namespace photo::http
