// OpenStore: the one place that maps a PHOTO_PIPELINE_DB URL to an adapter.
#include <charconv>
#include <memory>
#include <string>
#include <string_view>

#include "photo/store/memory_store.h"
#include "photo/store/postgres/pg_store.h"
#include "photo/store/sqlite/sqlite_store.h"
#include "photo/store/status_store.h"

namespace photo::store {
namespace {

Status BadUrl(const std::string& url, std::string_view why) {
  return InvalidArgumentError("bad_store_url", "store URL '" + url + "': " + std::string(why));
}

bool ParseInt(std::string_view s, int& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}

// "sqlite://<path>[?synchronous=full|normal&busy_timeout_ms=N&pool=N]".
// "sqlite:///abs/x.db" is absolute; "sqlite://var/data/x.db" is relative to the
// working directory.
Result<std::unique_ptr<StatusStore>> OpenSqlite(const std::string& url, std::string_view rest) {
  SqliteOptions o;
  std::string_view query;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  if (rest.empty()) return BadUrl(url, "no database path");
  o.path = std::string(rest);
  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view kv = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) return BadUrl(url, "parameter without '='");
    std::string_view k = kv.substr(0, eq), v = kv.substr(eq + 1);
    if (k == "synchronous") {
      o.synchronous = std::string(v);
    } else if (k == "busy_timeout_ms") {
      if (!ParseInt(v, o.busy_timeout_ms) || o.busy_timeout_ms < 0)
        return BadUrl(url, "busy_timeout_ms must be a non-negative integer");
    } else if (k == "pool") {
      if (!ParseInt(v, o.max_connections) || o.max_connections < 1)
        return BadUrl(url, "pool must be a positive integer");
    } else {
      return BadUrl(url, "unknown parameter '" + std::string(k) + "'");
    }
  }
  auto s = SqliteStatusStore::Open(o);
  if (!s) return s.error();
  return std::unique_ptr<StatusStore>(std::move(*s));
}

}  // namespace

Result<std::unique_ptr<StatusStore>> OpenStore(const std::string& url) {
  std::string_view u = url;
  if (u == "memory://" || u == "memory:")
    return std::unique_ptr<StatusStore>(std::make_unique<MemoryStatusStore>());
  if (u.starts_with("sqlite://")) return OpenSqlite(url, u.substr(9));
  if (u.starts_with("postgres://") || u.starts_with("postgresql://")) {
    PgOptions o;
    o.conninfo = url;  // libpq parses the URI itself (host, port, sslmode, ...)
    auto s = PgStatusStore::Open(o);
    if (!s) return s.error();
    return std::unique_ptr<StatusStore>(std::move(*s));
  }
  return BadUrl(url, "expected sqlite://, postgres://, postgresql:// or memory://");
}

}  // namespace photo::store
