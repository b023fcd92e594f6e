// Shared by the web app's route files (webapp_routes.cc, event_routes.cc,
// admin_routes.cc): webapp::Reply -> Response, query parameters, the admin
// check.
#pragma once

#include <initializer_list>
#include <optional>

#include "photo/http/api_context.h"
#include "photo/http/request.h"
#include "photo/store/image_record.h"
#include "photo/webapp/app_api.h"

namespace photo::http {

Response ToResponse(webapp::Reply reply);
// The named query parameters that are present, decoded.
webapp::Query QueryOf(const Request& req, std::initializer_list<const char*> names);
// The record as GET /status/{id} renders it.
std::string RecordJson(const ApiContext& ctx, const store::ImageRecord& record);
// nullopt when the request may use admin routes; else the refusal.
std::optional<Response> RequireAdmin(const ApiContext& ctx, const Request& req);

}  // namespace photo::http
