// The probe and scrape routes every listener of the project answers alike:
// the API (ops_routes.cc) and the workers' MetricsListener.
#pragma once

#include <functional>

#include "photo/http/metrics.h"
#include "photo/http/router.h"

namespace photo::http {

inline constexpr char kPrometheusTextType[] = "text/plain; version=0.0.4; charset=utf-8";

// GET /healthz -> 200 {"status":"ok"}. Answered on the I/O thread, so it
// never waits behind busy workers; never rate limited (an orchestrator
// polls it).
Route HealthzRoute();

// GET /metrics -> `metrics` in Prometheus text format, never rate limited.
// `refresh` (may be empty) runs first, for gauges read at scrape time; it may
// block, so with one the route runs on the worker pool, without one on the
// I/O thread (rendering only takes the registry's lock). `metrics` outlives
// the router.
Route MetricsRoute(const metrics::MetricsRegistry* metrics, std::function<void()> refresh = {});

}  // namespace photo::http
