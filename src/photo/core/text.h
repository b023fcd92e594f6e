// Text helpers shared by modules that emit markup.
#pragma once

#include <string>
#include <string_view>

namespace photo {

// Escapes &, <, >, " and ' as XML character references, so `s` can sit in
// XML/HTML text or attribute values and in pango markup as plain text.
std::string EscapeXml(std::string_view s);

}  // namespace photo
