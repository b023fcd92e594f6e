// Text helpers shared by modules: markup escaping, setting values, bounded
// error text.
#pragma once

#include <cstddef>
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

// Longest failure message stored in a record, sent in an event or an HTTP
// error: library text (libvips, OpenCV) can run to kilobytes of stack-like
// lines, and records and events are read by people and small clients.
inline constexpr std::size_t kMaxErrorTextBytes = 300;

// `text` made fit for a failure message: its first non-blank line, and its
// last one after " | " (two lines) or " [...] " (more), since libraries say
// what failed first and why last; other control characters turned into
// spaces, bytes that are not UTF-8 replaced by '?', each line cut at a
// character boundary (with a trailing "...") so that the result is at most
// `max_bytes` long, the last line keeping at least a third of it. Every message built from
// library or client text goes through this before it is stored or sent.
std::string BoundedErrorText(std::string_view text, std::size_t max_bytes = kMaxErrorTextBytes);

}  // namespace photo
