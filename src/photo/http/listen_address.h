// Listen addresses as operators write them (PHOTO_PIPELINE_LISTEN,
// PHOTO_PIPELINE_METRICS_LISTEN): one parser for every listener.
#pragma once

#include <string>
#include <string_view>

#include "photo/core/status.h"

namespace photo::http {

// Parses "host:port", "[v6]:port" or ":port" (host 0.0.0.0); port 0 = any
// free port. kInvalidArgument("bad_config") on anything else.
Status ParseListen(std::string_view text, std::string* host, int* port);

}  // namespace photo::http
