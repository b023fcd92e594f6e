// The OpenAPI description of the API and the /docs page made from it.
#pragma once

#include <string>
#include <string_view>

namespace photo::http {

// The OpenAPI 3.0 document, docs/openapi.json as it was at build time (CMake
// embeds the file; editing it re-runs the configure step).
std::string_view OpenApiSpec();

// A self-contained HTML page describing `spec_json` (an OpenAPI 3.0 document):
// every operation with its parameters, request body and responses, the
// component schemas, and a small upload form. No scripts and no external
// resources (no CDN is reachable where the service runs). Text from the spec
// is HTML-escaped. Returns a short error page when `spec_json` does not parse.
std::string RenderDocsPage(std::string_view spec_json);

}  // namespace photo::http
