// The API's route files. Each Register* adds its routes to the router; the
// handlers keep a reference to the context, which outlives the server.
// To add a route file: write foo_routes.cc with RegisterFooRoutes, declare it
// here, call it from ApiServer's RegisterAll (api_server.cc), add its source
// to CMakeLists.txt and describe the routes in docs/openapi.json.
#pragma once

#include <nlohmann/json.hpp>

#include "photo/core/status.h"
#include "photo/http/api_context.h"
#include "photo/http/router.h"

namespace photo::http {

// The upload probe used when ApiDeps::probe is empty (upload_routes.cc).
ProbeFn DefaultProbe();

// POST /upload/, POST /upload (upload_routes.cc)
Status RegisterUploadRoutes(Router& router, ApiContext& ctx);
// GET /images/{id}/similar, POST /search/similar (similar_routes.cc);
// registered before the image routes, whose /images/{id}/{rendition} would
// take /images/{id}/similar.
Status RegisterSimilarRoutes(Router& router, ApiContext& ctx);
// GET /status/{id}, GET /images/{id}/{rendition} (image_routes.cc)
Status RegisterImageRoutes(Router& router, ApiContext& ctx);
// With a signing key, signs every rendition URL of an API record (also used
// by the listing, webapp_routes.cc).
void SignUrls(const ApiContext& ctx, nlohmann::json& record);
// GET /healthz, /readyz, /metrics, /openapi.json, /docs (ops_routes.cc)
Status RegisterOpsRoutes(Router& router, ApiContext& ctx);
// GET /, GET /app/{file...}, GET /images (webapp_routes.cc)
Status RegisterWebAppRoutes(Router& router, ApiContext& ctx);
// GET /events (event_routes.cc)
Status RegisterEventRoutes(Router& router, ApiContext& ctx);
// GET /admin/queues, GET /admin/parked, POST /admin/parked/{stage}/{message_id}/replay
// (admin_routes.cc)
Status RegisterAdminRoutes(Router& router, ApiContext& ctx);

}  // namespace photo::http
