#include "photo/core/ids.h"

#include <chrono>
#include <cstdio>
#include <ctime>
#include <random>

namespace photo {

std::string NewImageId() {
  thread_local std::mt19937_64 rng{[] {
    std::random_device rd;
    return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
  }()};
  std::uint64_t a = rng(), b = rng();
  char buf[33];
  std::snprintf(buf, sizeof buf, "%016llx%016llx", static_cast<unsigned long long>(a),
                static_cast<unsigned long long>(b));
  return buf;
}

bool IsValidImageId(std::string_view id) {
  auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); };
  if (id.size() == 32) {
    for (char c : id)
      if (!hex(c)) return false;
    return true;
  }
  if (id.size() == 36) {
    for (std::size_t i = 0; i < id.size(); ++i) {
      bool dash = (i == 8 || i == 13 || i == 18 || i == 23);
      if (dash ? id[i] != '-' : !hex(id[i])) return false;
    }
    return true;
  }
  return false;
}

std::string SanitizeFilename(std::string_view name) {
  auto slash = name.find_last_of("/\\");
  if (slash != std::string_view::npos) name.remove_prefix(slash + 1);
  std::string out;
  out.reserve(name.size());
  for (std::size_t i = 0; i < name.size();) {
    auto c = static_cast<unsigned char>(name[i]);
    if (c < 0x80) {
      if (c >= 0x20 && c != 0x7f && c != '"' && c != '\'' && c != '`' && c != '<' && c != '>')
        out.push_back(static_cast<char>(c));
      ++i;
      continue;
    }
    // Keep well-formed UTF-8 sequences; drop stray bytes.
    std::size_t len = (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
    bool good = len > 0 && i + len <= name.size();
    for (std::size_t k = 1; good && k < len; ++k)
      good = (static_cast<unsigned char>(name[i + k]) & 0xc0) == 0x80;
    if (good) out.append(name.substr(i, len));
    i += good ? len : 1;
  }
  while (!out.empty() && (out.front() == '.' || out.front() == ' ')) out.erase(out.begin());
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (out.size() > 255) {
    std::size_t cut = 255;
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xc0) == 0x80) --cut;
    out.resize(cut);
  }
  return out.empty() ? "upload" : out;
}

std::int64_t NowUnixMillis() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string FormatIso8601(std::int64_t unix_millis) {
  std::time_t secs = static_cast<std::time_t>(unix_millis / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[96];
  std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                static_cast<int>(unix_millis % 1000));
  return buf;
}

std::string NowIso8601() { return FormatIso8601(NowUnixMillis()); }

}  // namespace photo
