// The StatusStore contract against a real PostgreSQL (PHOTO_TEST_POSTGRES_URL,
// set by ctest's `postgres` fixture; skipped when unset), plus reconnects and
// concurrent migrations.
#include "photo/store/postgres/pg_store.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "photo/core/ids.h"
#include "photo/store/status_store.h"
#include "photo/store/testing/store_test_suite.h"

namespace photo::store {
namespace {

std::string TestUrl() {
  const char* url = std::getenv("PHOTO_TEST_POSTGRES_URL");
  return url ? url : "";
}

struct PgBackend {
  std::string SkipReason() {
    return TestUrl().empty() ? "PHOTO_TEST_POSTGRES_URL not set (run through ctest)" : "";
  }
  Result<std::unique_ptr<StatusStore>> Open() { return OpenStore(TestUrl()); }
};

using Backends = ::testing::Types<PgBackend>;
using namespace testing;  // NOLINT: the suite's generated names live there
INSTANTIATE_TYPED_TEST_SUITE_P(Postgres, StoreContractTest, Backends);

// A raw libpq connection for poking at the server behind the store's back.
class Admin {
 public:
  explicit Admin(const std::string& url) : conn_(PQconnectdb(url.c_str())) {}
  ~Admin() { PQfinish(conn_); }
  bool ok() const { return PQstatus(conn_) == CONNECTION_OK; }
  std::string error() const { return PQerrorMessage(conn_); }
  // Runs `sql`; returns the first cell ("" if none) or "ERROR: ...".
  std::string Query(const std::string& sql) {
    PGresult* r = PQexec(conn_, sql.c_str());
    std::string out;
    auto st = PQresultStatus(r);
    if (st == PGRES_TUPLES_OK && PQntuples(r) > 0)
      out = PQgetvalue(r, 0, 0);
    else if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
      out = std::string("ERROR: ") + PQresultErrorMessage(r);
    PQclear(r);
    return out;
  }

 private:
  PGconn* conn_;
};

class PgStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    url_ = TestUrl();
    if (url_.empty()) GTEST_SKIP() << "PHOTO_TEST_POSTGRES_URL not set";
  }
  std::string url_;
};

TEST_F(PgStoreTest, ReconnectsAfterTheServerDropsEveryConnection) {
  auto store = OpenStore(url_);
  ASSERT_TRUE(store) << store.error().ToString();
  std::string id = NewImageId();
  ASSERT_TRUE((*store)->Create(NewRecord(id, "x.jpg", NowUnixMillis())).ok());
  // Fill the pool with several connections.
  std::vector<std::thread> ts;
  for (int i = 0; i < 4; ++i)
    ts.emplace_back([&] {
      for (int k = 0; k < 20; ++k) (void)(*store)->Get(id);
    });
  for (auto& t : ts) t.join();

  Admin admin(url_);
  ASSERT_TRUE(admin.ok()) << admin.error();
  std::string killed = admin.Query(
      "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
      "WHERE datname = current_database() AND application_name = 'photo-pipeline'");
  ASSERT_NE(killed, "0") << killed;

  auto upd = (*store)->Update(id, [](ImageRecord& r) {
    r.Stage("detect").attempts += 1;
    return Status::Ok();
  });
  ASSERT_TRUE(upd) << upd.error().ToString();
  EXPECT_EQ(upd->FindStage("detect")->attempts, 1);
  EXPECT_TRUE((*store)->Ping().ok());
}

TEST_F(PgStoreTest, ConcurrentOpensOnAFreshDatabaseMigrateOnce) {
  Admin admin(url_);
  ASSERT_TRUE(admin.ok()) << admin.error();
  std::string db = "photo_migrate_" + NewImageId().substr(0, 12);
  ASSERT_EQ(admin.Query("CREATE DATABASE " + db), "");
  // Same server, other database: replace the path of the URL.
  std::string base = url_.substr(0, url_.rfind('/'));
  std::string url = base + "/" + db;
  constexpr int kOpeners = 6;
  std::vector<Status> results(kOpeners);
  std::vector<std::thread> ts;
  for (int i = 0; i < kOpeners; ++i)
    ts.emplace_back([&, i] {
      auto s = OpenStore(url);
      results[i] = s ? (*s)->Ping() : s.error();
    });
  for (auto& t : ts) t.join();
  for (const auto& s : results) EXPECT_TRUE(s.ok()) << s.ToString();
  {
    Admin fresh(url);
    ASSERT_TRUE(fresh.ok());
    EXPECT_EQ(fresh.Query("SELECT count(*) FROM schema_migrations"),
              std::to_string(PgStatusStore::kSchemaVersion));
    EXPECT_EQ(fresh.Query("SELECT max(version) FROM schema_migrations"),
              std::to_string(PgStatusStore::kSchemaVersion));
  }
  EXPECT_EQ(admin.Query("DROP DATABASE " + db + " WITH (FORCE)"), "");
}

TEST_F(PgStoreTest, NewerSchemaIsRefused) {
  Admin admin(url_);
  ASSERT_TRUE(admin.ok());
  std::string db = "photo_newer_" + NewImageId().substr(0, 12);
  ASSERT_EQ(admin.Query("CREATE DATABASE " + db), "");
  std::string url = url_.substr(0, url_.rfind('/')) + "/" + db;
  {
    Admin fresh(url);
    ASSERT_TRUE(fresh.ok());
    ASSERT_EQ(fresh.Query("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, "
                          "applied_at TIMESTAMPTZ NOT NULL DEFAULT now());"
                          "INSERT INTO schema_migrations(version) VALUES (99)"),
              "");
  }
  auto store = OpenStore(url);
  ASSERT_FALSE(store);
  EXPECT_EQ(store.error().reason(), "store_schema_too_new");
  EXPECT_EQ(admin.Query("DROP DATABASE " + db + " WITH (FORCE)"), "");
}

}  // namespace
}  // namespace photo::store
