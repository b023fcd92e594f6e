#include "photo/store/sqlite/sqlite_store.h"

#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <random>
#include <thread>
#include <utility>
#include <vector>

#include "photo/core/files.h"
#include "photo/core/ids.h"
#include "photo/store/connection_pool.h"
#include "photo/store/record_json.h"

namespace photo::store {
namespace {

bool IsBusy(int rc) {
  int primary = rc & 0xff;
  return primary == SQLITE_BUSY || primary == SQLITE_LOCKED;
}

// One place decides what an SQLite result code means to callers.
Status MapError(int rc, sqlite3* db, std::string_view what) {
  std::string msg = std::string(what) + ": " + sqlite3_errstr(rc);
  if (db) msg += std::string(" (") + sqlite3_errmsg(db) + ")";
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_FULL:
    case SQLITE_PROTOCOL:
    case SQLITE_NOMEM:
      return UnavailableError("store_unavailable", std::move(msg));
    case SQLITE_CONSTRAINT:
      if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE)
        return {StatusCode::kAlreadyExists, "already_exists", std::move(msg)};
      return InternalError("store_error", std::move(msg));
    default:
      return InternalError("store_error", std::move(msg));
  }
}

struct Outcome {
  Status status;
  bool busy = false;  // retrying the whole operation may succeed
};

Outcome Fail(int rc, sqlite3* db, std::string_view what) {
  return {MapError(rc, db, what), IsBusy(rc)};
}

class Stmt {
 public:
  Stmt() = default;
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  int Prepare(sqlite3* db, std::string_view sql) {
    return sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
  }
  void Bind(int i, std::string_view text) {
    sqlite3_bind_text(stmt_, i, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
  }
  void Bind(int i, std::int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  int Step() { return sqlite3_step(stmt_); }
  bool prepared() const { return stmt_ != nullptr; }
  void Reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  std::string_view Text(int col) {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string_view(p, static_cast<std::size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string_view();
  }
  std::int64_t Int(int col) { return sqlite3_column_int64(stmt_, col); }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

int ExecRc(sqlite3* db, const char* sql) {
  return sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
}

constexpr const char* kMigrations[] = {
    // v1
    "CREATE TABLE IF NOT EXISTS images ("
    "  id TEXT PRIMARY KEY,"
    "  status TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"  // unix ms
    "  updated_at INTEGER NOT NULL,"  // unix ms
    "  record TEXT NOT NULL"          // RecordToStorageJson
    ");"
    "CREATE INDEX IF NOT EXISTS images_status ON images(status);",
    // v2: keyset scans for the listing (newest first, per status) and the
    // change feed (by updated_at).
    "CREATE INDEX IF NOT EXISTS images_created ON images(created_at, id);"
    "CREATE INDEX IF NOT EXISTS images_status_created ON images(status, created_at, id);"
    "CREATE INDEX IF NOT EXISTS images_updated ON images(updated_at, id);",
};
static_assert(std::size(kMigrations) == SqliteStatusStore::kSchemaVersion);

}  // namespace

class SqliteStatusStore::Impl {
 public:
  explicit Impl(SqliteOptions o)
      : opts_(std::move(o)),
        pool_(opts_.max_connections, {.open = [this] { return OpenConnection(); },
                                      .close = [](sqlite3* db) { sqlite3_close_v2(db); },
                                      .reusable = &Reusable}) {}

  Result<sqlite3*> OpenConnection() {
    sqlite3* db = nullptr;
    int rc =
        sqlite3_open_v2(opts_.path.c_str(), &db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      Status s = MapError(rc, db, "open " + opts_.path);
      sqlite3_close_v2(db);
      return s;
    }
    sqlite3_extended_result_codes(db, 1);
    sqlite3_busy_timeout(db, opts_.busy_timeout_ms);
    // journal_mode=WAL needs a brief exclusive lock the first time, and
    // SQLite answers SQLITE_BUSY at once, without the busy handler, when
    // another process converts the file at the same moment (the API and the
    // workers starting together failed CI that way). WAL persists in the
    // file, so the retry is needed only around the first opener.
    const std::string pragmas =
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=" + opts_.synchronous + ";";
    const auto give_up = std::chrono::steady_clock::now() +
                         std::chrono::milliseconds(std::max(opts_.busy_timeout_ms, 1000));
    while ((rc = ExecRc(db, pragmas.c_str())) != SQLITE_OK &&
           ((rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED)) {
      if (std::chrono::steady_clock::now() >= give_up) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (rc != SQLITE_OK) {
      Status s = MapError(rc, db, "configure " + opts_.path);
      sqlite3_close_v2(db);
      return s;
    }
    return db;
  }

  // A connection left inside a transaction (a failed ROLLBACK) is spoiled.
  static bool Reusable(sqlite3* db) {
    return sqlite3_get_autocommit(db) || ExecRc(db, "ROLLBACK") == SQLITE_OK;
  }

  // Runs `fn` on a pooled connection, retrying while it reports busy.
  template <typename Fn>
  Status Run(Fn&& fn) {
    thread_local std::minstd_rand rng(std::random_device{}());
    for (int attempt = 0;; ++attempt) {
      Outcome out;
      {
        auto lease = pool_.Acquire();
        if (!lease) return lease.error();
        out = fn(lease->get());
        if (!out.status.ok() && !sqlite3_get_autocommit(lease->get()))
          ExecRc(lease->get(), "ROLLBACK");
      }
      if (!out.busy || attempt >= opts_.max_busy_retries) return out.status;
      // Jittered exponential back-off so colliding processes spread out.
      int cap = std::min(1000, 10 << attempt);
      std::this_thread::sleep_for(std::chrono::milliseconds(
          cap / 2 + static_cast<int>(rng() % static_cast<unsigned>(cap))));
    }
  }

  Status Migrate() {
    int found = 0;
    Status s = Run([&](sqlite3* db) -> Outcome {
      int rc = ExecRc(db, "BEGIN IMMEDIATE");
      if (rc != SQLITE_OK) return Fail(rc, db, "begin migration");
      Stmt q;
      if ((rc = q.Prepare(db, "PRAGMA user_version")) != SQLITE_OK || (rc = q.Step()) != SQLITE_ROW)
        return Fail(rc, db, "read user_version");
      found = static_cast<int>(q.Int(0));
      if (found > kSchemaVersion) return {};
      for (int v = found; v < kSchemaVersion; ++v) {
        if ((rc = ExecRc(db, kMigrations[v])) != SQLITE_OK)
          return Fail(rc, db, "migration " + std::to_string(v + 1));
      }
      std::string set = "PRAGMA user_version=" + std::to_string(kSchemaVersion);
      if ((rc = ExecRc(db, set.c_str())) != SQLITE_OK) return Fail(rc, db, "set user_version");
      if ((rc = ExecRc(db, "COMMIT")) != SQLITE_OK) return Fail(rc, db, "commit migration");
      return {};
    });
    RETURN_IF_ERROR(s);
    if (found > kSchemaVersion)
      return FailedPreconditionError("store_schema_too_new", opts_.path + " has schema version " +
                                                                 std::to_string(found) +
                                                                 ", this binary knows up to " +
                                                                 std::to_string(kSchemaVersion));
    return Status::Ok();
  }

  // --- Group commit (Create and Delete) ------------------------------------
  //
  // With synchronous=FULL every commit costs one fsync of the WAL (~7.6 ms on
  // the reference VM), so commits one per caller cap a process near 130/s.
  // Concurrent Create/Delete callers instead queue their write; one of them
  // (the leader) takes everything queued, runs it in ONE transaction (one
  // savepoint per write, so a duplicate id fails only its own caller) and one
  // fsync, then wakes each caller with its own result. Writes arriving during
  // that commit form the next batch. Nothing returns before the transaction
  // holding its write is durably committed, so durability is unchanged.
  struct Write {
    enum Kind { kInsert, kDelete } kind = kInsert;
    std::string_view id;
    const ImageRecord* record = nullptr;  // kInsert
    std::string json;                     // kInsert
    Status result;
    bool done = false;
  };

  Status SubmitWrite(Write& w) {
    std::unique_lock lock(group_mu_);
    if (getpid() != group_pid_) {  // forked: a parent's leader does not exist here
      group_queue_.clear();
      group_leader_ = false;
      group_pid_ = getpid();
    }
    group_queue_.push_back(&w);
    while (!w.done) {
      if (group_leader_) {
        group_cv_.wait(lock);
        continue;
      }
      // Lead: our write is still queued (nobody else took it), so it is in
      // the batch.
      group_leader_ = true;
      std::vector<Write*> batch;
      const std::size_t n = std::min(group_queue_.size(), kMaxGroup);
      batch.assign(group_queue_.begin(), group_queue_.begin() + static_cast<std::ptrdiff_t>(n));
      group_queue_.erase(group_queue_.begin(), group_queue_.begin() + static_cast<std::ptrdiff_t>(n));
      lock.unlock();
      RunGroup(batch);
      lock.lock();
      for (Write* b : batch) b->done = true;
      group_leader_ = false;
      ++group_commits_;
      group_cv_.notify_all();
    }
    return std::move(w.result);
  }

  std::uint64_t group_commits() {
    std::lock_guard lock(group_mu_);
    return group_commits_;
  }

  const SqliteOptions& opts() const { return opts_; }

 private:
  static constexpr std::size_t kMaxGroup = 256;

  // One transaction for the whole batch. A failure of one write that leaves
  // the transaction usable (a duplicate id) is that write's result; anything
  // else (busy, I/O, a failed COMMIT) fails the batch: busy retries it whole
  // (Run), and otherwise every caller in it gets the error.
  void RunGroup(const std::vector<Write*>& batch) {
    Status s = Run([&](sqlite3* db) -> Outcome {
      int rc = ExecRc(db, "BEGIN IMMEDIATE");
      if (rc != SQLITE_OK) return Fail(rc, db, "begin");
      Stmt ins, del;
      for (Write* w : batch) {
        w->result = Status::Ok();
        if ((rc = ExecRc(db, "SAVEPOINT w")) != SQLITE_OK) return Fail(rc, db, "savepoint");
        Stmt& st = w->kind == Write::kInsert ? ins : del;
        rc = SQLITE_OK;
        if (w->kind == Write::kInsert) {
          if (!ins.prepared()) {
            rc = ins.Prepare(db,
                             "INSERT INTO images(id, status, created_at, updated_at, record) "
                             "VALUES(?1, ?2, ?3, ?4, ?5)");
            if (rc != SQLITE_OK) return Fail(rc, db, "prepare insert");
          }
          ins.Reset();
          ins.Bind(1, w->record->id);
          ins.Bind(2, w->record->status);
          ins.Bind(3, w->record->created_at_ms);
          ins.Bind(4, w->record->updated_at_ms);
          ins.Bind(5, w->json);
        } else {
          if (!del.prepared()) {
            rc = del.Prepare(db, "DELETE FROM images WHERE id = ?1");
            if (rc != SQLITE_OK) return Fail(rc, db, "prepare delete");
          }
          del.Reset();
          del.Bind(1, w->id);
        }
        rc = st.Step();
        if (rc != SQLITE_DONE) {
          Outcome o = Fail(rc, db, (w->kind == Write::kInsert ? "insert " : "delete ") +
                                       std::string(w->id));
          if (o.busy || sqlite3_get_autocommit(db)) return o;  // the transaction is gone
          if (o.status.code() == StatusCode::kAlreadyExists) {
            o.status = {StatusCode::kAlreadyExists, "already_exists",
                        "image " + std::string(w->id) + " exists"};
          }
          st.Reset();
          if ((rc = ExecRc(db, "ROLLBACK TO w")) != SQLITE_OK) return Fail(rc, db, "rollback to");
          w->result = std::move(o.status);
        }
        st.Reset();
        if ((rc = ExecRc(db, "RELEASE w")) != SQLITE_OK) return Fail(rc, db, "release");
      }
      if ((rc = ExecRc(db, "COMMIT")) != SQLITE_OK) return Fail(rc, db, "commit");
      return {};
    });
    if (!s.ok()) {
      for (Write* w : batch) w->result = s;
    }
  }

  std::mutex group_mu_;
  std::condition_variable group_cv_;
  std::vector<Write*> group_queue_;
  bool group_leader_ = false;
  std::uint64_t group_commits_ = 0;
  pid_t group_pid_ = getpid();

  SqliteOptions opts_;
  ConnectionPool<sqlite3> pool_;
};

SqliteStatusStore::SqliteStatusStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
SqliteStatusStore::~SqliteStatusStore() = default;

Result<std::unique_ptr<SqliteStatusStore>> SqliteStatusStore::Open(const SqliteOptions& options) {
  if (options.path.empty()) return InvalidArgumentError("bad_store_url", "empty SQLite path");
  if (options.max_connections < 1)
    return InvalidArgumentError("bad_store_url", "max_connections must be >= 1");
  std::string sync = options.synchronous;
  std::transform(sync.begin(), sync.end(), sync.begin(), ::toupper);
  if (sync != "OFF" && sync != "NORMAL" && sync != "FULL" && sync != "EXTRA")
    return InvalidArgumentError("bad_store_url", "synchronous must be off|normal|full|extra");
  std::filesystem::path parent = std::filesystem::path(options.path).parent_path();
  if (!parent.empty()) RETURN_IF_ERROR(MakeDirs(parent));
  SqliteOptions o = options;
  o.synchronous = sync;
  auto impl = std::make_unique<Impl>(std::move(o));
  RETURN_IF_ERROR(impl->Migrate());
  return std::unique_ptr<SqliteStatusStore>(new SqliteStatusStore(std::move(impl)));
}

Status SqliteStatusStore::Create(const ImageRecord& record) {
  Impl::Write w;
  w.kind = Impl::Write::kInsert;
  w.id = record.id;
  w.record = &record;
  w.json = RecordToStorageJson(record);
  return impl_->SubmitWrite(w);
}

Result<ImageRecord> SqliteStatusStore::Get(std::string_view id) {
  std::optional<ImageRecord> out;
  Status s = impl_->Run([&](sqlite3* db) -> Outcome {
    Stmt st;
    int rc = st.Prepare(db, "SELECT record FROM images WHERE id = ?1");
    if (rc != SQLITE_OK) return Fail(rc, db, "prepare select");
    st.Bind(1, id);
    rc = st.Step();
    if (rc == SQLITE_DONE) return {NotFoundError("not_found", "no image " + std::string(id))};
    if (rc != SQLITE_ROW) return Fail(rc, db, "select");
    auto rec = RecordFromStorageJson(st.Text(0));
    if (!rec) return {rec.error()};
    out = std::move(*rec);
    return {};
  });
  RETURN_IF_ERROR(s);
  return std::move(*out);
}

Result<ImageRecord> SqliteStatusStore::Update(std::string_view id,
                                              const std::function<Status(ImageRecord&)>& mutate) {
  std::optional<ImageRecord> out;
  Status s = impl_->Run([&](sqlite3* db) -> Outcome {
    int rc = ExecRc(db, "BEGIN IMMEDIATE");
    if (rc != SQLITE_OK) return Fail(rc, db, "begin");
    ImageRecord rec;
    {
      Stmt st;
      if ((rc = st.Prepare(db, "SELECT record FROM images WHERE id = ?1")) != SQLITE_OK)
        return Fail(rc, db, "prepare select");
      st.Bind(1, id);
      rc = st.Step();
      if (rc == SQLITE_DONE) return {NotFoundError("not_found", "no image " + std::string(id))};
      if (rc != SQLITE_ROW) return Fail(rc, db, "select");
      auto parsed = RecordFromStorageJson(st.Text(0));
      if (!parsed) return {parsed.error()};
      rec = std::move(*parsed);
    }
    std::int64_t prev_updated = rec.updated_at_ms;
    Status m = mutate(rec);
    if (!m.ok()) return {m};
    rec.id = std::string(id);
    // Never move backwards when another process's clock is slightly ahead.
    rec.updated_at_ms = std::max(NowUnixMillis(), prev_updated);
    {
      Stmt st;
      if ((rc = st.Prepare(db,
                           "UPDATE images SET status = ?2, updated_at = ?3, record = ?4 "
                           "WHERE id = ?1")) != SQLITE_OK)
        return Fail(rc, db, "prepare update");
      st.Bind(1, id);
      st.Bind(2, rec.status);
      st.Bind(3, rec.updated_at_ms);
      st.Bind(4, RecordToStorageJson(rec));
      if ((rc = st.Step()) != SQLITE_DONE) return Fail(rc, db, "update");
    }
    if ((rc = ExecRc(db, "COMMIT")) != SQLITE_OK) return Fail(rc, db, "commit");
    out = std::move(rec);
    return {};
  });
  RETURN_IF_ERROR(s);
  return std::move(*out);
}

Status SqliteStatusStore::Delete(std::string_view id) {
  Impl::Write w;
  w.kind = Impl::Write::kDelete;
  w.id = id;
  return impl_->SubmitWrite(w);
}

std::uint64_t SqliteStatusStore::group_commits() const { return impl_->group_commits(); }

Result<std::map<std::string, std::int64_t>> SqliteStatusStore::CountByStatus() {
  std::map<std::string, std::int64_t> counts;
  Status s = impl_->Run([&](sqlite3* db) -> Outcome {
    counts.clear();
    Stmt st;
    int rc = st.Prepare(db, "SELECT status, COUNT(*) FROM images GROUP BY status");
    if (rc != SQLITE_OK) return Fail(rc, db, "prepare count");
    while ((rc = st.Step()) == SQLITE_ROW) counts[std::string(st.Text(0))] = st.Int(1);
    if (rc != SQLITE_DONE) return Fail(rc, db, "count");
    return {};
  });
  RETURN_IF_ERROR(s);
  return counts;
}

Status SqliteStatusStore::Ping() {
  return impl_->Run([&](sqlite3* db) -> Outcome {
    // Reads the schema, so a deleted or unreadable file shows up here.
    Stmt st;
    int rc = st.Prepare(db, "SELECT COUNT(*) FROM sqlite_schema");
    if (rc != SQLITE_OK) return Fail(rc, db, "prepare ping");
    if ((rc = st.Step()) != SQLITE_ROW) return Fail(rc, db, "ping");
    return {};
  });
}

namespace {

// Runs a prepared scan and decodes every row's record.
Outcome ReadRecords(Stmt& st, sqlite3* db, std::vector<ImageRecord>& out) {
  out.clear();
  int rc;
  while ((rc = st.Step()) == SQLITE_ROW) {
    auto rec = RecordFromStorageJson(st.Text(0));
    if (!rec) return {rec.error()};
    out.push_back(std::move(*rec));
  }
  if (rc != SQLITE_DONE) return Fail(rc, db, "scan");
  return {};
}

}  // namespace

Result<std::vector<ImageRecord>> SqliteStatusStore::ScanNewest(const ScanKey* after,
                                                               std::string_view status,
                                                               int limit) {
  // Conditions are left out rather than neutralised ("?1 = '' OR ..."), so
  // the planner can use the (status, created_at, id) index.
  std::string sql = "SELECT record FROM images WHERE 1";
  if (!status.empty()) sql += " AND status = ?1";
  if (after) sql += " AND (created_at < ?2 OR (created_at = ?2 AND id < ?3))";
  sql += " ORDER BY created_at DESC, id DESC LIMIT ?4";
  std::vector<ImageRecord> out;
  Status s = impl_->Run([&](sqlite3* db) -> Outcome {
    Stmt st;
    int rc = st.Prepare(db, sql);
    if (rc != SQLITE_OK) return Fail(rc, db, "prepare scan");
    if (!status.empty()) st.Bind(1, status);
    if (after) {
      st.Bind(2, after->ms);
      st.Bind(3, after->id);
    }
    st.Bind(4, static_cast<std::int64_t>(limit));
    return ReadRecords(st, db, out);
  });
  RETURN_IF_ERROR(s);
  return out;
}

Result<std::vector<ImageRecord>> SqliteStatusStore::ScanChanged(const ScanKey& after, int limit) {
  std::vector<ImageRecord> out;
  Status s = impl_->Run([&](sqlite3* db) -> Outcome {
    Stmt st;
    int rc = st.Prepare(db,
                        "SELECT record FROM images WHERE updated_at > ?1 OR "
                        "(updated_at = ?1 AND id > ?2) ORDER BY updated_at, id LIMIT ?3");
    if (rc != SQLITE_OK) return Fail(rc, db, "prepare changes");
    st.Bind(1, after.ms);
    st.Bind(2, after.id);
    st.Bind(3, static_cast<std::int64_t>(limit));
    return ReadRecords(st, db, out);
  });
  RETURN_IF_ERROR(s);
  return out;
}

}  // namespace photo::store
