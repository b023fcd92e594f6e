#include "photo/store/postgres/pg_store.h"

#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <optional>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "photo/core/ids.h"
#include "photo/store/connection_pool.h"
#include "photo/store/record_json.h"

namespace photo::store {
namespace {

using PgResult = std::unique_ptr<PGresult, decltype(&PQclear)>;

// Arbitrary constant: the advisory lock that serialises migrations.
constexpr std::int64_t kMigrationLockKey = 0x70686f746f303031;  // "photo001"

constexpr const char* kMigrations[] = {
    // v1
    "CREATE TABLE IF NOT EXISTS images ("
    "  id TEXT PRIMARY KEY,"
    "  status TEXT NOT NULL,"
    "  created_at BIGINT NOT NULL,"  // unix ms
    "  updated_at BIGINT NOT NULL,"  // unix ms
    "  record TEXT NOT NULL"         // RecordToStorageJson
    ");"
    "CREATE INDEX IF NOT EXISTS images_status ON images(status);",
    // v2: keyset scans for the listing (newest first, per status) and the
    // change feed (by updated_at).
    "CREATE INDEX IF NOT EXISTS images_created ON images(created_at, id);"
    "CREATE INDEX IF NOT EXISTS images_status_created ON images(status, created_at, id);"
    "CREATE INDEX IF NOT EXISTS images_updated ON images(updated_at, id);",
};
static_assert(std::size(kMigrations) == PgStatusStore::kSchemaVersion);

struct Outcome {
  Status status;
  bool retry = false;  // nothing was committed; a fresh connection may succeed
};

// Decides what a failed statement means. `committing` marks COMMIT (and the
// single statements that commit implicitly): a lost connection there is
// ambiguous, so it is reported, not retried.
Outcome Fail(PGconn* conn, const PGresult* res, std::string_view what, bool committing = false) {
  std::string msg = std::string(what) + ": ";
  const char* err = res ? PQresultErrorMessage(res) : nullptr;
  msg += (err && *err) ? err : PQerrorMessage(conn);
  while (!msg.empty() && (msg.back() == '\n' || msg.back() == ' ')) msg.pop_back();
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  std::string_view sqlstate = state ? state : "";
  bool conn_lost = PQstatus(conn) != CONNECTION_OK || !res || sqlstate.starts_with("08") ||
                   sqlstate.starts_with("57P");
  if (sqlstate == "23505")
    return {{StatusCode::kAlreadyExists, "already_exists", std::move(msg)}, false};
  if (conn_lost) return {UnavailableError("store_unavailable", std::move(msg)), !committing};
  if (sqlstate == "40001" || sqlstate == "40P01" || sqlstate == "55P03" ||
      sqlstate.starts_with("53"))
    return {UnavailableError("store_unavailable", std::move(msg)), true};
  return {InternalError("store_error", std::move(msg)), false};
}

bool CommandOk(const PGresult* res) { return res && PQresultStatus(res) == PGRES_COMMAND_OK; }
bool TuplesOk(const PGresult* res) { return res && PQresultStatus(res) == PGRES_TUPLES_OK; }

PgResult Exec(PGconn* conn, const char* sql) { return {PQexec(conn, sql), &PQclear}; }

// Text parameters only: every value we send is text or a decimal integer.
PgResult ExecParams(PGconn* conn, const char* sql, std::initializer_list<std::string_view> params) {
  std::vector<std::string> owned(params.begin(), params.end());  // NUL-terminated copies
  std::vector<const char*> values;
  for (const auto& p : owned) values.push_back(p.c_str());
  return {PQexecParams(conn, sql, static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                       nullptr, 0),
          &PQclear};
}

std::string_view Value(const PGresult* res, int row, int col) {
  return {PQgetvalue(res, row, col), static_cast<std::size_t>(PQgetlength(res, row, col))};
}

void IgnoreNotice(void*, const char*) {}

}  // namespace

class PgStatusStore::Impl {
 public:
  explicit Impl(PgOptions o)
      : opts_(std::move(o)),
        pool_(opts_.max_connections, {.open = [this] { return Connect(); },
                                      .close = [](PGconn* c) { PQfinish(c); },
                                      .reusable = &Reusable,
                                      .spoiled_means_all = true}) {}

  Result<PGconn*> Connect() {
    std::string timeout = std::to_string(opts_.connect_timeout_s);
    // Later keywords win, and the expanded URI sits in `dbname`'s place, so a
    // connect_timeout inside the URI overrides ours.
    const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
    const char* vals[] = {timeout.c_str(), "photo-pipeline", opts_.conninfo.c_str(), nullptr};
    PGconn* conn = PQconnectdbParams(keys, vals, /*expand_dbname=*/1);
    if (!conn) return UnavailableError("store_unavailable", "libpq: out of memory");
    if (PQstatus(conn) != CONNECTION_OK) {
      std::string msg = PQerrorMessage(conn);
      while (!msg.empty() && msg.back() == '\n') msg.pop_back();
      PQfinish(conn);
      return UnavailableError("store_unavailable", "connect to PostgreSQL: " + msg);
    }
    PQsetNoticeProcessor(conn, &IgnoreNotice, nullptr);
    return conn;
  }

  // A connection left inside a transaction is rolled back; a dead one
  // (usually a server restart) is spoiled.
  static bool Reusable(PGconn* conn) {
    bool healthy = PQstatus(conn) == CONNECTION_OK;
    if (healthy && PQtransactionStatus(conn) != PQTRANS_IDLE) {
      Exec(conn, "ROLLBACK");
      healthy = PQstatus(conn) == CONNECTION_OK && PQtransactionStatus(conn) == PQTRANS_IDLE;
    }
    return healthy;
  }

  template <typename Fn>
  Status Run(Fn&& fn) {
    thread_local std::minstd_rand rng(std::random_device{}());
    for (int attempt = 0;; ++attempt) {
      Outcome out;
      {
        auto lease = pool_.Acquire();
        if (!lease) {
          out = {lease.error(), false};  // callers back off; do not stack connect timeouts
        } else {
          out = fn(lease->get());
        }
      }
      if (out.status.ok() || !out.retry || attempt >= opts_.max_retries) return out.status;
      int cap = std::min(500, 20 << attempt);
      std::this_thread::sleep_for(std::chrono::milliseconds(
          cap / 2 + static_cast<int>(rng() % static_cast<unsigned>(cap))));
    }
  }

  Status Migrate() {
    int found = 0;
    Status s = Run([&](PGconn* c) -> Outcome {
      PgResult r = Exec(c, "BEGIN");
      if (!CommandOk(r.get())) return Fail(c, r.get(), "begin migration");
      std::string lock = "SELECT pg_advisory_xact_lock(" + std::to_string(kMigrationLockKey) + ")";
      r = Exec(c, lock.c_str());
      if (!TuplesOk(r.get())) return Fail(c, r.get(), "migration lock");
      r = Exec(c,
               "CREATE TABLE IF NOT EXISTS schema_migrations ("
               "  version INTEGER PRIMARY KEY,"
               "  applied_at TIMESTAMPTZ NOT NULL DEFAULT now())");
      if (!CommandOk(r.get())) return Fail(c, r.get(), "create schema_migrations");
      r = Exec(c, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
      if (!TuplesOk(r.get())) return Fail(c, r.get(), "read schema version");
      found = std::stoi(std::string(Value(r.get(), 0, 0)));
      for (int v = found; v < kSchemaVersion; ++v) {
        r = Exec(c, kMigrations[v]);
        if (!CommandOk(r.get())) return Fail(c, r.get(), "migration " + std::to_string(v + 1));
        r = ExecParams(c, "INSERT INTO schema_migrations(version) VALUES($1::int)",
                       {std::to_string(v + 1)});
        if (!CommandOk(r.get())) return Fail(c, r.get(), "record migration");
      }
      r = Exec(c, "COMMIT");
      if (!CommandOk(r.get())) return Fail(c, r.get(), "commit migration");
      return {};
    });
    RETURN_IF_ERROR(s);
    if (found > kSchemaVersion)
      return FailedPreconditionError("store_schema_too_new", "database has schema version " +
                                                                 std::to_string(found) +
                                                                 ", this binary knows up to " +
                                                                 std::to_string(kSchemaVersion));
    return Status::Ok();
  }

 private:
  PgOptions opts_;
  ConnectionPool<PGconn> pool_;
};

PgStatusStore::PgStatusStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PgStatusStore::~PgStatusStore() = default;

Result<std::unique_ptr<PgStatusStore>> PgStatusStore::Open(const PgOptions& options) {
  if (options.conninfo.empty())
    return InvalidArgumentError("bad_store_url", "empty PostgreSQL connection string");
  if (options.max_connections < 1)
    return InvalidArgumentError("bad_store_url", "max_connections must be >= 1");
  auto impl = std::make_unique<Impl>(options);
  RETURN_IF_ERROR(impl->Migrate());
  return std::unique_ptr<PgStatusStore>(new PgStatusStore(std::move(impl)));
}

Status PgStatusStore::Create(const ImageRecord& record) {
  std::string json = RecordToStorageJson(record);
  return impl_->Run([&](PGconn* c) -> Outcome {
    // An explicit transaction makes a lost connection before COMMIT safe to
    // retry; only a lost COMMIT is ambiguous.
    PgResult r = Exec(c, "BEGIN");
    if (!CommandOk(r.get())) return Fail(c, r.get(), "begin");
    r = ExecParams(c,
                   "INSERT INTO images(id, status, created_at, updated_at, record) "
                   "VALUES($1, $2, $3::bigint, $4::bigint, $5)",
                   {record.id, record.status, std::to_string(record.created_at_ms),
                    std::to_string(record.updated_at_ms), json});
    if (!CommandOk(r.get())) {
      Outcome o = Fail(c, r.get(), "insert " + record.id);
      if (o.status.code() == StatusCode::kAlreadyExists)
        o.status = {StatusCode::kAlreadyExists, "already_exists", "image " + record.id + " exists"};
      return o;
    }
    r = Exec(c, "COMMIT");
    if (!CommandOk(r.get())) return Fail(c, r.get(), "commit", /*committing=*/true);
    return {};
  });
}

Result<ImageRecord> PgStatusStore::Get(std::string_view id) {
  std::optional<ImageRecord> out;
  Status s = impl_->Run([&](PGconn* c) -> Outcome {
    PgResult r = ExecParams(c, "SELECT record FROM images WHERE id = $1", {id});
    if (!TuplesOk(r.get())) return Fail(c, r.get(), "select");
    if (PQntuples(r.get()) == 0) return {NotFoundError("not_found", "no image " + std::string(id))};
    auto rec = RecordFromStorageJson(Value(r.get(), 0, 0));
    if (!rec) return {rec.error()};
    out = std::move(*rec);
    return {};
  });
  RETURN_IF_ERROR(s);
  return std::move(*out);
}

Result<ImageRecord> PgStatusStore::Update(std::string_view id,
                                          const std::function<Status(ImageRecord&)>& mutate) {
  std::optional<ImageRecord> out;
  Status s = impl_->Run([&](PGconn* c) -> Outcome {
    PgResult r = Exec(c, "BEGIN");
    if (!CommandOk(r.get())) return Fail(c, r.get(), "begin");
    r = ExecParams(c, "SELECT record FROM images WHERE id = $1 FOR UPDATE", {id});
    if (!TuplesOk(r.get())) return Fail(c, r.get(), "select for update");
    if (PQntuples(r.get()) == 0) return {NotFoundError("not_found", "no image " + std::string(id))};
    auto parsed = RecordFromStorageJson(Value(r.get(), 0, 0));
    if (!parsed) return {parsed.error()};
    ImageRecord rec = std::move(*parsed);
    std::int64_t prev_updated = rec.updated_at_ms;
    Status m = mutate(rec);
    if (!m.ok()) return {m};  // the lease's return rolls back
    rec.id = std::string(id);
    rec.updated_at_ms = std::max(NowUnixMillis(), prev_updated);
    r = ExecParams(c,
                   "UPDATE images SET status = $2, updated_at = $3::bigint, record = $4 "
                   "WHERE id = $1",
                   {id, rec.status, std::to_string(rec.updated_at_ms), RecordToStorageJson(rec)});
    if (!CommandOk(r.get())) return Fail(c, r.get(), "update");
    r = Exec(c, "COMMIT");
    if (!CommandOk(r.get())) return Fail(c, r.get(), "commit", /*committing=*/true);
    out = std::move(rec);
    return {};
  });
  RETURN_IF_ERROR(s);
  return std::move(*out);
}

Status PgStatusStore::Delete(std::string_view id) {
  // Idempotent, so a retry after a lost reply is harmless.
  return impl_->Run([&](PGconn* c) -> Outcome {
    PgResult r = ExecParams(c, "DELETE FROM images WHERE id = $1", {id});
    if (!CommandOk(r.get())) return Fail(c, r.get(), "delete");
    return {};
  });
}

Result<std::map<std::string, std::int64_t>> PgStatusStore::CountByStatus() {
  std::map<std::string, std::int64_t> counts;
  Status s = impl_->Run([&](PGconn* c) -> Outcome {
    counts.clear();
    PgResult r = Exec(c, "SELECT status, COUNT(*) FROM images GROUP BY status");
    if (!TuplesOk(r.get())) return Fail(c, r.get(), "count");
    for (int i = 0; i < PQntuples(r.get()); ++i)
      counts[std::string(Value(r.get(), i, 0))] = std::stoll(std::string(Value(r.get(), i, 1)));
    return {};
  });
  RETURN_IF_ERROR(s);
  return counts;
}

Status PgStatusStore::Ping() {
  return impl_->Run([&](PGconn* c) -> Outcome {
    PgResult r = Exec(c, "SELECT 1");
    if (!TuplesOk(r.get())) return Fail(c, r.get(), "ping");
    return {};
  });
}

namespace {

Outcome ReadRecords(PGconn* c, const PGresult* r, std::vector<ImageRecord>& out) {
  if (!TuplesOk(r)) return Fail(c, r, "scan");
  out.clear();
  for (int i = 0; i < PQntuples(r); ++i) {
    auto rec = RecordFromStorageJson(Value(r, i, 0));
    if (!rec) return {rec.error()};
    out.push_back(std::move(*rec));
  }
  return {};
}

}  // namespace

Result<std::vector<ImageRecord>> PgStatusStore::ScanNewest(const ScanKey* after,
                                                           std::string_view status, int limit) {
  // Row comparison (created_at, id) < ($2, $3) matches the index order;
  // the first page starts below the largest key.
  const char* sql = status.empty()
                        ? "SELECT record FROM images WHERE $1 = '' AND (created_at, id) < "
                          "($2::bigint, $3) ORDER BY created_at DESC, id DESC LIMIT $4::int"
                        : "SELECT record FROM images WHERE status = $1 AND (created_at, id) < "
                          "($2::bigint, $3) ORDER BY created_at DESC, id DESC LIMIT $4::int";
  const std::string ms = after ? std::to_string(after->ms) : "9223372036854775807";
  const std::string id = after ? after->id : "";
  std::vector<ImageRecord> out;
  Status s = impl_->Run([&](PGconn* c) -> Outcome {
    PgResult r = ExecParams(c, sql, {status, ms, id, std::to_string(limit)});
    return ReadRecords(c, r.get(), out);
  });
  RETURN_IF_ERROR(s);
  return out;
}

Result<std::vector<ImageRecord>> PgStatusStore::ScanChanged(const ScanKey& after, int limit) {
  std::vector<ImageRecord> out;
  Status s = impl_->Run([&](PGconn* c) -> Outcome {
    PgResult r = ExecParams(c,
                            "SELECT record FROM images WHERE (updated_at, id) > ($1::bigint, $2) "
                            "ORDER BY updated_at, id LIMIT $3::int",
                            {std::to_string(after.ms), after.id, std::to_string(limit)});
    return ReadRecords(c, r.get(), out);
  });
  RETURN_IF_ERROR(s);
  return out;
}

}  // namespace photo::store
