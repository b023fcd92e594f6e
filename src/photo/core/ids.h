// Image ids, timestamps and client-supplied names.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace photo {

// A random 128-bit id as 32 lowercase hex chars (UUIDv4 without dashes is
// what the old system's clients saw as an opaque string; we keep it
// filesystem- and URL-safe so storage paths can be built from it alone).
std::string NewImageId();

// True for exactly what NewImageId produces (and the 8-4-4-4-12 dashed UUID
// form that the old system issued). Anything else is never used in a path.
bool IsValidImageId(std::string_view id);

// The client's filename made safe for display and headers: basename only (both
// '/' and '\\' separators), control characters and quotes removed, at most 255
// bytes of valid UTF-8; "upload" if nothing is left.
std::string SanitizeFilename(std::string_view name);

// Current UTC time as RFC 3339 with milliseconds: "2026-11-27T23:16:04.123Z".
std::string NowIso8601();
std::int64_t NowUnixMillis();
std::string FormatIso8601(std::int64_t unix_millis);

}  // namespace photo
