// GET /healthz, /readyz, /metrics, /openapi.json, /docs.
#include <memory>

#include "photo/http/openapi.h"
#include "photo/http/probe_routes.h"
#include "photo/http/responses.h"
#include "photo/http/routes.h"

namespace photo::http {
namespace {

constexpr char kMetricImages[] = "photo_images";

Response Ready(ApiContext& ctx) {
  Status store = ctx.store->Ping();
  Status broker = ctx.publisher->Ping();
  auto check = [](const Status& s) { return s.ok() ? std::string("ok") : s.ToString(); };
  nlohmann::json body = {{"checks", {{"store", check(store)}, {"broker", check(broker)}}}};
  if (store.ok() && broker.ok()) {
    body["status"] = "ready";
    return JsonResponse(200, body);
  }
  std::string failed = !store.ok() && !broker.ok() ? "store, broker" : !store.ok() ? "store" : "broker";
  body["status"] = "not_ready";
  body["error"] = {{"code", "not_ready"}, {"message", "unavailable: " + failed}};
  Response res = JsonResponse(503, body);
  res.headers.Set("Retry-After", std::to_string(ctx.config.retry_after_s));
  return res;
}

// Image counts by status, read from the store at scrape time.
void RefreshImageCounts(ApiContext& ctx) {
  if (auto counts = ctx.store->CountByStatus()) {
    for (const char* status : {"uploaded", "processing", "completed", "failed"}) {
      ctx.metrics->Set(kMetricImages, {{"status", status}}, 0);
    }
    for (const auto& [status, n] : *counts) {
      ctx.metrics->Set(kMetricImages, {{"status", status}}, static_cast<double>(n));
    }
  }
}

}  // namespace

Status RegisterOpsRoutes(Router& router, ApiContext& ctx) {
  ctx.metrics->DeclareGauge(kMetricImages, "Images in the store, by status (read at scrape time).");
  RETURN_IF_ERROR(router.Add(HealthzRoute()));
  // Probes and scrapes are not rate limited (an orchestrator polls them).
  RETURN_IF_ERROR(router.Add({.method = "GET",
                              .pattern = "/readyz",
                              .handler = [&ctx](const Request&) { return Ready(ctx); },
                              .rate_limited = false}));
  RETURN_IF_ERROR(router.Add(MetricsRoute(ctx.metrics, [&ctx] { RefreshImageCounts(ctx); })));
  RETURN_IF_ERROR(router.Add({.method = "GET",
                              .pattern = "/openapi.json",
                              .handler =
                                  [](const Request&) {
                                    Response res;
                                    res.headers.Set("Content-Type", kJsonType);
                                    res.body = std::string(OpenApiSpec());
                                    return res;
                                  },
                              .inline_io = true}));
  auto page = std::make_shared<const std::string>(RenderDocsPage(OpenApiSpec()));
  RETURN_IF_ERROR(router.Add({.method = "GET",
                              .pattern = "/docs",
                              .handler =
                                  [page](const Request&) {
                                    Response res;
                                    res.headers.Set("Content-Type", "text/html; charset=utf-8");
                                    // The page has no scripts; the form may only post back to us.
                                    res.headers.Set("Content-Security-Policy",
                                                    "default-src 'none'; style-src 'unsafe-inline'; "
                                                    "form-action 'self'; frame-ancestors 'none'");
                                    res.body = *page;
                                    return res;
                                  },
                              .inline_io = true}));
  return Status::Ok();
}

}  // namespace photo::http
