#include "photo/http/router.h"

#include <unistd.h>

#include <cctype>

namespace photo::http {
namespace {

std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> out;
  if (path.empty() || path.front() != '/') return out;
  path.remove_prefix(1);
  while (true) {
    size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return out;
}

bool IsParam(std::string_view seg) { return seg.size() >= 3 && seg.front() == '{' && seg.back() == '}'; }
bool IsRest(std::string_view seg) {
  return IsParam(seg) && seg.size() > 5 && seg.substr(seg.size() - 4) == "...}";
}
std::string ParamName(std::string_view seg) {
  seg = seg.substr(1, seg.size() - 2);
  if (seg.size() > 3 && seg.substr(seg.size() - 3) == "...") seg.remove_suffix(3);
  return std::string(seg);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

// --- Headers, Request, FileBody (request.h) -------------------------------

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string_view Headers::Get(std::string_view name) const {
  for (const auto& [k, v] : fields_) {
    if (EqualsIgnoreCase(k, name)) return v;
  }
  return {};
}

bool Headers::Has(std::string_view name) const {
  for (const auto& f : fields_) {
    if (EqualsIgnoreCase(f.first, name)) return true;
  }
  return false;
}

void Headers::Add(std::string name, std::string value) { fields_.emplace_back(std::move(name), std::move(value)); }

void Headers::Set(std::string name, std::string value) {
  Remove(name);
  Add(std::move(name), std::move(value));
}

void Headers::Remove(std::string_view name) {
  std::erase_if(fields_, [&](const auto& f) { return EqualsIgnoreCase(f.first, name); });
}

std::string_view Request::Param(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return {};
}

std::optional<std::string> Request::QueryValue(std::string_view name) const {
  std::string_view q = query;
  while (!q.empty()) {
    size_t amp = q.find('&');
    std::string_view pair = q.substr(0, amp);
    size_t eq = pair.find('=');
    if (PercentDecode(pair.substr(0, eq), true) == name) {
      return eq == std::string_view::npos ? std::string() : PercentDecode(pair.substr(eq + 1), true);
    }
    if (amp == std::string_view::npos) break;
    q.remove_prefix(amp + 1);
  }
  return std::nullopt;
}

FileBody::~FileBody() {
  if (fd_ >= 0) ::close(fd_);
}

std::string PercentDecode(std::string_view s, bool plus_as_space) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      int hi = HexValue(s[i + 1]);
      int lo = HexValue(s[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out.push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
        continue;
      }
    }
    out.push_back(plus_as_space && s[i] == '+' ? ' ' : s[i]);
  }
  return out;
}

// --- Router ----------------------------------------------------------------

Status Router::Add(Route route) {
  if (static_cast<bool>(route.handler) == static_cast<bool>(route.body_handler)) {
    return InvalidArgumentError("bad_route", route.pattern + ": set exactly one of handler, body_handler");
  }
  std::vector<std::string_view> segs = SplitPath(route.pattern);
  if (segs.empty()) return InvalidArgumentError("bad_route", "pattern must start with '/': " + route.pattern);
  for (size_t i = 0; i < segs.size(); ++i) {
    if (IsRest(segs[i]) && i + 1 != segs.size()) {
      return InvalidArgumentError("bad_route", route.pattern + ": {name...} must be the last segment");
    }
  }
  for (const Entry& e : entries_) {
    if (e.route.method == route.method && e.route.pattern == route.pattern) {
      return InvalidArgumentError("bad_route", "duplicate route " + route.method + " " + route.pattern);
    }
  }
  if (route.metric_route.empty()) route.metric_route = route.pattern;
  Entry e{std::move(route), {}};
  for (std::string_view s : segs) e.segments.emplace_back(s);
  entries_.push_back(std::move(e));
  return Status::Ok();
}

bool Router::MatchSegments(const std::vector<std::string>& pattern, const std::vector<std::string_view>& path,
                           std::vector<std::pair<std::string, std::string>>* params) {
  params->clear();
  for (size_t i = 0; i < pattern.size(); ++i) {
    const std::string& want = pattern[i];
    if (IsRest(want)) {
      std::string rest;
      for (size_t j = i; j < path.size(); ++j) {
        if (j > i) rest += '/';
        rest += PercentDecode(path[j]);
      }
      params->emplace_back(ParamName(want), std::move(rest));
      return true;
    }
    if (i >= path.size()) return false;
    if (IsParam(want)) {
      if (path[i].empty()) return false;
      params->emplace_back(ParamName(want), PercentDecode(path[i]));
    } else if (path[i] != want) {
      return false;
    }
  }
  return pattern.size() == path.size();
}

Router::Match Router::Find(std::string_view method, std::string_view path) const {
  Match m;
  const std::vector<std::string_view> segs = SplitPath(path);
  if (segs.empty()) return m;
  const std::string_view want = method == "HEAD" ? std::string_view("GET") : method;
  std::vector<std::pair<std::string, std::string>> params;
  int best_literals = -1;
  for (const Entry& e : entries_) {
    if (!MatchSegments(e.segments, segs, &params)) continue;
    if (e.route.method == want) {
      // The most specific route wins: /images/{id}/similar over
      // /images/{id}/{rendition}, whatever the registration order.
      int literals = 0;
      for (const std::string& seg : e.segments) literals += IsParam(seg) ? 0 : 1;
      if (literals > best_literals) {
        best_literals = literals;
        m.route = &e.route;
        m.params = params;
      }
      continue;
    }
    if (m.allow.find(e.route.method) == std::string::npos) {
      m.allow += (m.allow.empty() ? "" : ", ") + e.route.method;
      if (e.route.method == "GET") m.allow += ", HEAD";
    }
  }
  if (m.route != nullptr) m.allow.clear();
  return m;
}

std::vector<std::string> Router::List() const {
  std::vector<std::string> out;
  for (const Entry& e : entries_) out.push_back(e.route.method + " " + e.route.pattern);
  return out;
}

}  // namespace photo::http
