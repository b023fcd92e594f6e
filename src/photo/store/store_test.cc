// The StatusStore contract against MemoryStatusStore and SqliteStatusStore,
// plus what only SQLite and the URL factory have (processes, files, URLs).
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "photo/core/ids.h"
#include "photo/store/memory_store.h"
#include "photo/store/sqlite/sqlite_store.h"
#include "photo/store/status_store.h"
#include "photo/store/testing/store_test_suite.h"

namespace photo::store {
namespace {

namespace fs = std::filesystem;

// A directory unique to this test, removed afterwards.
class TempDir {
 public:
  TempDir() : path_(fs::path(::testing::TempDir()) / ("store_test_" + NewImageId())) {
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Hands out handles that all forward to one MemoryStatusStore.
class SharedMemoryHandle final : public StatusStore {
 public:
  explicit SharedMemoryHandle(std::shared_ptr<MemoryStatusStore> s) : s_(std::move(s)) {}
  Status Create(const ImageRecord& r) override { return s_->Create(r); }
  Result<ImageRecord> Get(std::string_view id) override { return s_->Get(id); }
  Result<ImageRecord> Update(std::string_view id,
                             const std::function<Status(ImageRecord&)>& m) override {
    return s_->Update(id, m);
  }
  Status Delete(std::string_view id) override { return s_->Delete(id); }
  Result<std::map<std::string, std::int64_t>> CountByStatus() override {
    return s_->CountByStatus();
  }
  Status Ping() override { return s_->Ping(); }
  Result<std::vector<ImageRecord>> ScanNewest(const ScanKey* after, std::string_view status,
                                              int limit) override {
    return s_->ScanNewest(after, status, limit);
  }
  Result<std::vector<ImageRecord>> ScanChanged(const ScanKey& after, int limit) override {
    return s_->ScanChanged(after, limit);
  }

 private:
  std::shared_ptr<MemoryStatusStore> s_;
};

struct MemoryBackend {
  std::string SkipReason() { return {}; }
  Result<std::unique_ptr<StatusStore>> Open() {
    return std::unique_ptr<StatusStore>(std::make_unique<SharedMemoryHandle>(store));
  }
  std::shared_ptr<MemoryStatusStore> store = std::make_shared<MemoryStatusStore>();
};

struct SqliteBackend {
  std::string SkipReason() { return {}; }
  // synchronous=normal only saves fsyncs (1600 of them in the concurrency
  // test); locking is the same. The forked-process test runs the default FULL.
  Result<std::unique_ptr<StatusStore>> Open() {
    return OpenStore("sqlite://" + (dir.path() / "photo.db").string() + "?synchronous=normal");
  }
  TempDir dir;
};

using Backends = ::testing::Types<MemoryBackend, SqliteBackend>;
using namespace testing;  // NOLINT: the suite's generated names live there
INSTANTIATE_TYPED_TEST_SUITE_P(Store, StoreContractTest, Backends);

// --- SQLite only ----------------------------------------------------------

TEST(SqliteStoreTest, ForkedProcessesIncrementOneRecordExactly) {
  TempDir dir;
  std::string url = "sqlite://" + (dir.path() / "photo.db").string();
  std::string id = NewImageId();
  {
    auto store = OpenStore(url);
    ASSERT_TRUE(store) << store.error().ToString();
    ASSERT_TRUE((*store)->Create(NewRecord(id, "x.jpg", NowUnixMillis())).ok());
  }  // no connection is open across fork()
  constexpr int kProcs = 4, kIncrements = 100;
  std::vector<pid_t> kids;
  for (int p = 0; p < kProcs; ++p) {
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      int failures = 0;
      auto store = OpenStore(url);
      if (!store) _exit(100);
      for (int i = 0; i < kIncrements; ++i) {
        auto r = (*store)->Update(id, [](ImageRecord& rec) {
          rec.Stage("watermark").redeliveries += 1;
          return Status::Ok();
        });
        if (!r) ++failures;
      }
      _exit(failures == 0 ? 0 : 1);  // skip gtest's atexit machinery in the child
    }
    kids.push_back(pid);
  }
  for (pid_t pid : kids) {
    int status = 0;
    ASSERT_EQ(waitpid(pid, &status, 0), pid);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "child status " << status;
  }
  auto store = OpenStore(url);
  ASSERT_TRUE(store);
  auto got = (*store)->Get(id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->FindStage("watermark")->redeliveries, kProcs * kIncrements);
}

TEST(SqliteStoreTest, ProcessesOpeningANewDatabaseTogetherAllSucceed) {
  // The API and every worker open the same new file at start-up; the first
  // switch to WAL must not fail the others (it did, as SQLITE_BUSY).
  constexpr int kRounds = 10, kProcs = 8;
  for (int round = 0; round < kRounds; ++round) {
    TempDir dir;
    const std::string url = "sqlite://" + (dir.path() / "photo.db").string();
    int go[2];
    ASSERT_EQ(pipe(go), 0);
    std::vector<pid_t> kids;
    for (int p = 0; p < kProcs; ++p) {
      pid_t pid = fork();
      ASSERT_GE(pid, 0);
      if (pid == 0) {
        close(go[1]);
        char c;
        if (read(go[0], &c, 1) != 0) _exit(101);  // wait for the start (EOF)
        auto store = OpenStore(url);
        _exit(store ? 0 : 1);
      }
      kids.push_back(pid);
    }
    close(go[0]);
    close(go[1]);  // all children start now
    for (pid_t pid : kids) {
      int status = 0;
      ASSERT_EQ(waitpid(pid, &status, 0), pid);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "round " << round;
    }
  }
}

TEST(SqliteStoreTest, ChildAfterForkUsesFreshConnections) {
  // The parent keeps its store (and pooled connections) open across fork; the
  // child must still work through the same object and not disturb the parent.
  TempDir dir;
  auto store = OpenStore("sqlite://" + (dir.path() / "photo.db").string());
  ASSERT_TRUE(store);
  std::string id = NewImageId();
  ASSERT_TRUE((*store)->Create(NewRecord(id, "x.jpg", NowUnixMillis())).ok());
  pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    auto r = (*store)->Update(id, [](ImageRecord& rec) {
      rec.status = "processing";
      return Status::Ok();
    });
    _exit(r ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  auto got = (*store)->Get(id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, "processing");
  EXPECT_TRUE((*store)->Update(id, [](ImageRecord&) { return Status::Ok(); }));
}

TEST(SqliteStoreTest, SurvivesReopenAndUsesWal) {
  TempDir dir;
  fs::path db = dir.path() / "sub" / "dir" / "photo.db";  // parents are created
  std::string id = NewImageId();
  {
    auto store = OpenStore("sqlite://" + db.string());
    ASSERT_TRUE(store) << store.error().ToString();
    ASSERT_TRUE((*store)->Create(NewRecord(id, "x.jpg", 5)).ok());
  }
  auto store = OpenStore("sqlite://" + db.string());
  ASSERT_TRUE(store);
  EXPECT_EQ((*store)->Get(id)->created_at_ms, 5);

  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(raw, "PRAGMA journal_mode", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "wal");
  sqlite3_finalize(st);
  ASSERT_EQ(sqlite3_prepare_v2(raw, "PRAGMA user_version", -1, &st, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), SqliteStatusStore::kSchemaVersion);
  sqlite3_finalize(st);
  sqlite3_close(raw);
}

TEST(SqliteStoreTest, NewerSchemaIsRefused) {
  TempDir dir;
  fs::path db = dir.path() / "photo.db";
  { ASSERT_TRUE(OpenStore("sqlite://" + db.string())); }
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "PRAGMA user_version=99", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(raw);
  auto store = OpenStore("sqlite://" + db.string());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(store.error().reason(), "store_schema_too_new");
}

TEST(SqliteStoreTest, CorruptRowIsInternalNotACrash) {
  TempDir dir;
  fs::path db = dir.path() / "photo.db";
  auto store = OpenStore("sqlite://" + db.string());
  ASSERT_TRUE(store);
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(
      sqlite3_exec(raw, "INSERT INTO images VALUES('bad', 'uploaded', 0, 0, '{\"v\":1,\"id\":3}')",
                   nullptr, nullptr, nullptr),
      SQLITE_OK);
  sqlite3_close(raw);
  auto got = (*store)->Get("bad");
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().reason(), "corrupt_record");
  auto upd = (*store)->Update("bad", [](ImageRecord&) { return Status::Ok(); });
  ASSERT_FALSE(upd);
  EXPECT_EQ(upd.error().reason(), "corrupt_record");
}

TEST(SqliteStoreTest, HeldWriteLockYieldsUnavailable) {
  TempDir dir;
  fs::path db = dir.path() / "photo.db";
  auto store = OpenStore("sqlite://" + db.string() + "?busy_timeout_ms=20");
  ASSERT_TRUE(store) << store.error().ToString();
  std::string id = NewImageId();
  ASSERT_TRUE((*store)->Create(NewRecord(id, "x.jpg", 1)).ok());
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  auto upd = (*store)->Update(id, [](ImageRecord&) { return Status::Ok(); });
  ASSERT_FALSE(upd);
  EXPECT_EQ(upd.error().code(), StatusCode::kUnavailable);
  EXPECT_EQ(upd.error().reason(), "store_unavailable");
  // Readers are not blocked by the writer (WAL).
  EXPECT_TRUE((*store)->Get(id));
  sqlite3_exec(raw, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(raw);
  EXPECT_TRUE((*store)->Update(id, [](ImageRecord&) { return Status::Ok(); }));
}

// Group commit: many threads create at once (default synchronous=FULL);
// every caller gets its own answer (a duplicate fails only itself), all rows
// are there after reopening, and fewer transactions than writes ran.
TEST(SqliteStoreTest, GroupCommitGivesEachConcurrentCallerItsOwnResult) {
  TempDir dir;
  const std::string path = (dir.path() / "photo.db").string();
  constexpr int kThreads = 16, kPerThread = 40;
  const std::string existing = NewImageId();
  const std::string contested = NewImageId();
  std::vector<std::vector<std::string>> ids(kThreads);
  std::atomic<int> wrong{0}, contested_wins{0}, contested_dups{0};
  std::uint64_t commits = 0;
  {
    SqliteOptions o;
    o.path = path;
    auto store = SqliteStatusStore::Open(o);
    ASSERT_TRUE(store) << store.error().ToString();
    ASSERT_TRUE((*store)->Create(NewRecord(existing, "old.jpg", 1)).ok());
    const std::uint64_t commits_before = (*store)->group_commits();
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int i = 0; i < kPerThread; ++i) {
          if (i == kPerThread / 2) {
            // Everyone races for one id: exactly one wins.
            Status s = (*store)->Create(NewRecord(contested, "c" + std::to_string(t), 2));
            if (s.ok()) {
              ++contested_wins;
            } else if (s.code() == StatusCode::kAlreadyExists && s.reason() == "already_exists") {
              ++contested_dups;
            } else {
              ++wrong;
            }
          }
          if (i % 10 == 3) {
            // A duplicate of a committed record fails only this caller.
            Status s = (*store)->Create(NewRecord(existing, "dup.jpg", 3));
            if (s.code() != StatusCode::kAlreadyExists) ++wrong;
          }
          std::string id = NewImageId();
          if (!(*store)->Create(NewRecord(id, "t" + std::to_string(t), 4)).ok()) ++wrong;
          if (i % 8 == 7) {
            // Rollback path: delete one of ours again (and an unknown id).
            if (!(*store)->Delete(id).ok()) ++wrong;
            if (!(*store)->Delete(NewImageId()).ok()) ++wrong;
          } else {
            ids[t].push_back(id);
          }
        }
      });
    }
    for (auto& th : threads) th.join();
    commits = (*store)->group_commits() - commits_before;
  }
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(contested_wins.load(), 1);
  EXPECT_EQ(contested_dups.load(), kThreads - 1);
  const int writes = kThreads * (kPerThread + 1 + kPerThread / 10) + kThreads * (kPerThread / 8) * 2;
  EXPECT_LT(commits, static_cast<std::uint64_t>(writes)) << "no write shared a transaction";

  auto store = OpenStore("sqlite://" + path);  // reopened: everything is on disk
  ASSERT_TRUE(store);
  int found = 0;
  for (const auto& mine : ids) {
    for (const auto& id : mine) {
      auto got = (*store)->Get(id);
      ASSERT_TRUE(got) << id << ": " << got.error().ToString();
      ++found;
    }
  }
  EXPECT_EQ(found, kThreads * (kPerThread - kPerThread / 8));
  EXPECT_EQ((*store)->Get(existing)->filename, "old.jpg");
  EXPECT_TRUE((*store)->Get(contested));
  auto counts = (*store)->CountByStatus();
  ASSERT_TRUE(counts);
  EXPECT_EQ((*counts)["uploaded"], found + 2);
}

// A held write lock fails every caller of the batch with store_unavailable
// (nothing half-committed), and the store recovers afterwards.
TEST(SqliteStoreTest, GroupCommitUnderHeldLockFailsEveryCallerThenRecovers) {
  TempDir dir;
  fs::path db = dir.path() / "photo.db";
  SqliteOptions o;
  o.path = db.string();
  o.busy_timeout_ms = 20;
  o.max_busy_retries = 1;
  auto store = SqliteStatusStore::Open(o);
  ASSERT_TRUE(store) << store.error().ToString();
  sqlite3* raw = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &raw), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(raw, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::vector<std::string> ids(6);
  std::vector<Status> results(6);
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    ids[t] = NewImageId();
    threads.emplace_back([&, t] { results[t] = (*store)->Create(NewRecord(ids[t], "x.jpg", 1)); });
  }
  for (auto& th : threads) th.join();
  for (const Status& s : results) {
    EXPECT_EQ(s.code(), StatusCode::kUnavailable);
    EXPECT_EQ(s.reason(), "store_unavailable");
  }
  sqlite3_exec(raw, "ROLLBACK", nullptr, nullptr, nullptr);
  sqlite3_close(raw);
  for (const auto& id : ids) {
    EXPECT_EQ((*store)->Get(id).error().code(), StatusCode::kNotFound);
    EXPECT_TRUE((*store)->Create(NewRecord(id, "x.jpg", 1)).ok());
  }
}

TEST(SqliteStoreTest, UnopenablePathIsUnavailable) {
  TempDir dir;
  // A directory where the database file should be.
  fs::create_directories(dir.path() / "photo.db");
  auto store = OpenStore("sqlite://" + (dir.path() / "photo.db").string());
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), StatusCode::kUnavailable);
}

// --- OpenStore URLs -------------------------------------------------------

TEST(OpenStoreTest, RelativeSqlitePathIsRelativeToTheWorkingDirectory) {
  TempDir dir;
  fs::path old = fs::current_path();
  fs::current_path(dir.path());
  auto store = OpenStore("sqlite://var/data/x.db");
  bool ok = store.has_value();
  store = InvalidArgumentError("closed", "release the handle before leaving the dir");
  fs::current_path(old);
  ASSERT_TRUE(ok);
  EXPECT_TRUE(fs::exists(dir.path() / "var" / "data" / "x.db"));
}

TEST(OpenStoreTest, AbsoluteSqlitePath) {
  TempDir dir;
  fs::path db = dir.path() / "abs.db";
  ASSERT_TRUE(db.is_absolute());
  auto store = OpenStore("sqlite://" + db.string() + "?synchronous=normal&pool=2");
  ASSERT_TRUE(store) << store.error().ToString();
  EXPECT_TRUE(fs::exists(db));
}

TEST(OpenStoreTest, MemoryUrl) {
  auto store = OpenStore("memory://");
  ASSERT_TRUE(store);
  EXPECT_TRUE((*store)->Ping().ok());
}

TEST(OpenStoreTest, BadUrlsAreInvalidArgument) {
  for (const char* url : {"", "mysql://x", "sqlite://", "sqlite://x.db?pool=0",
                          "sqlite://x.db?synchronous=sometimes", "sqlite://x.db?colour=red"}) {
    auto store = OpenStore(url);
    ASSERT_FALSE(store) << url;
    EXPECT_EQ(store.error().code(), StatusCode::kInvalidArgument) << url;
    EXPECT_EQ(store.error().reason(), "bad_store_url") << url;
  }
}

TEST(OpenStoreTest, UnreachablePostgresIsUnavailable) {
  // Port 1 on loopback: refused at once, no server needed.
  auto store = OpenStore("postgresql://postgres@127.0.0.1:1/photo?connect_timeout=2");
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().code(), StatusCode::kUnavailable);
  EXPECT_EQ(store.error().reason(), "store_unavailable");
}

}  // namespace
}  // namespace photo::store
