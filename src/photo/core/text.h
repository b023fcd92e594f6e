// Text helpers shared by modules: markup escaping, setting values.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace photo {

// Escapes &, <, >, " and ' as XML character references, so `s` can sit in
// XML/HTML text or attribute values and in pango markup as plain text.
std::string EscapeXml(std::string_view s);

// A boolean setting: 1/true/yes/on or 0/false/no/off, any case; nullopt for
// anything else (the caller names the variable in its error).
std::optional<bool> ParseBoolSetting(std::string_view s);

}  // namespace photo
