#include "photo/http/probe_routes.h"

#include <utility>

#include "photo/http/responses.h"

namespace photo::http {

Route HealthzRoute() {
  return {.method = "GET",
          .pattern = "/healthz",
          .handler =
              [](const Request&) {
                return JsonResponse(200, {{"status", "ok"}});
              },
          .inline_io = true,
          .rate_limited = false};
}

Route MetricsRoute(const metrics::MetricsRegistry* metrics, std::function<void()> refresh) {
  const bool may_block = static_cast<bool>(refresh);
  return {.method = "GET",
          .pattern = "/metrics",
          .handler =
              [metrics, refresh = std::move(refresh)](const Request&) {
                if (refresh) refresh();
                Response res;
                res.headers.Set("Content-Type", kPrometheusTextType);
                res.body = metrics->RenderText();
                return res;
              },
          .inline_io = !may_block,
          .rate_limited = false};
}

}  // namespace photo::http
