#include "photo/core/text.h"

#include <algorithm>
#include <cctype>

namespace photo {

std::string EscapeXml(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      // Numeric: HTML and GMarkup (pango) both accept it, &apos; is XML-only.
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::optional<bool> ParseBoolSetting(std::string_view s) {
  std::string v;
  for (char c : s) v += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (v == "1" || v == "true" || v == "yes" || v == "on") return true;
  if (v == "0" || v == "false" || v == "no" || v == "off") return false;
  return std::nullopt;
}

namespace {

// Length of the UTF-8 sequence starting at s[i] (1-4), or 0 when the bytes
// there are not one (overlong forms and surrogates included).
std::size_t Utf8Length(std::string_view s, std::size_t i) {
  const auto b = [&](std::size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  std::size_t n = 0;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) n = 2;
  else if (c >= 0xe0 && c <= 0xef) n = 3;
  else if (c >= 0xf0 && c <= 0xf4) n = 4;
  else return 0;
  if (i + n > s.size()) return 0;
  for (std::size_t k = 1; k < n; ++k) {
    if ((b(k) & 0xc0) != 0x80) return 0;
  }
  if ((c == 0xe0 && b(1) < 0xa0) || (c == 0xed && b(1) > 0x9f) || (c == 0xf0 && b(1) < 0x90) ||
      (c == 0xf4 && b(1) > 0x8f)) {
    return 0;
  }
  return n;
}

bool IsLineBreak(char c) { return c == '\n' || c == '\r'; }

bool IsBlank(std::string_view line) { return line.find_first_not_of(" \t\f\v") == std::string_view::npos; }

// `line` with control characters as spaces and bytes that are not UTF-8 as
// '?', surrounding spaces trimmed.
std::string Clean(std::string_view line) {
  std::string out;
  out.reserve(line.size());
  for (std::size_t i = 0; i < line.size();) {
    const std::size_t n = Utf8Length(line, i);
    if (n == 0) {
      out += '?';
      ++i;
      continue;
    }
    const auto c = static_cast<unsigned char>(line[i]);
    if (n == 1 && (c < 0x20 || c == 0x7f)) {
      out += ' ';
    } else {
      out.append(line.substr(i, n));
    }
    i += n;
  }
  const std::size_t first = out.find_first_not_of(' ');
  if (first == std::string::npos) return {};
  out.erase(0, first);
  out.erase(out.find_last_not_of(' ') + 1);
  return out;
}

// Clean (valid UTF-8) text cut to at most `max_bytes` on a character
// boundary, "..." marking the cut.
std::string Fit(std::string text, std::size_t max_bytes) {
  static constexpr std::string_view kCut = "...";
  if (text.size() <= max_bytes) return text;
  std::size_t keep = max_bytes >= kCut.size() ? max_bytes - kCut.size() : max_bytes;
  while (keep > 0 && (static_cast<unsigned char>(text[keep]) & 0xc0) == 0x80) --keep;
  text.resize(keep);
  while (!text.empty() && text.back() == ' ') text.pop_back();
  if (max_bytes >= kCut.size()) text += kCut;
  return text;
}

}  // namespace

std::string BoundedErrorText(std::string_view text, std::size_t max_bytes) {
  // The first and the last line with something on them: libraries say what
  // failed first and, after their warnings, why last (libvips over libtiff
  // logs a line per odd tag before "unable to open source").
  std::string_view first;
  std::string_view last;
  std::size_t lines = 0;
  while (!text.empty()) {
    std::size_t end = 0;
    while (end < text.size() && !IsLineBreak(text[end])) ++end;
    const std::string_view line = text.substr(0, end);
    text.remove_prefix(end);
    while (!text.empty() && IsLineBreak(text.front())) text.remove_prefix(1);
    if (IsBlank(line)) continue;
    if (lines++ == 0) first = line;
    last = line;
  }
  if (lines <= 1) return Fit(Clean(first), max_bytes);
  const std::string sep = lines == 2 ? " | " : " [...] ";
  std::string head = Clean(first);
  std::string tail = Clean(last);
  if (head.size() + sep.size() + tail.size() <= max_bytes) return head + sep + tail;
  if (max_bytes < 3 * sep.size()) return Fit(std::move(head), max_bytes);
  // The cause gets up to a third, the rest goes to the first line.
  std::size_t tail_budget = max_bytes / 3;
  if (head.size() + sep.size() < max_bytes) tail_budget = std::max(tail_budget, max_bytes - sep.size() - head.size());
  tail = Fit(std::move(tail), tail_budget);
  head = Fit(std::move(head), max_bytes - sep.size() - tail.size());
  return head + sep + tail;
}

}  // namespace photo
