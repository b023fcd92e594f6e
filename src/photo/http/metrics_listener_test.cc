// MetricsListener over loopback: a real listener on 127.0.0.1 (port 0) and
// cpp-httplib as the client.
#include "photo/http/metrics_listener.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <atomic>
#include <chrono>
#include <future>
#include <string>
#include <thread>

namespace photo::http {
namespace {

constexpr char kPrometheus[] = "text/plain; version=0.0.4; charset=utf-8";

// The status of GET `path` on 127.0.0.1:`port`; -1 when no answer came.
int StatusOf(int port, const char* path, int read_timeout_s = 5) {
  httplib::Client c("127.0.0.1", port);
  c.set_connection_timeout(1, 0);
  c.set_read_timeout(read_timeout_s, 0);
  auto r = c.Get(path);
  return r ? r->status : -1;
}

class MetricsListenerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    metrics_.DeclareCounter("photo_jobs_total", "Jobs handled");
    metrics_.Add("photo_jobs_total", {{"stage", "resize"}, {"outcome", "ack"}}, 3);
    ASSERT_TRUE(listener_.Start("127.0.0.1:0").ok());
    ASSERT_GT(listener_.port(), 0);
  }
  httplib::Result Get(const char* path) {
    httplib::Client c("127.0.0.1", listener_.port());
    c.set_read_timeout(5, 0);
    return c.Get(path);
  }
  // GET `path` answers `status` with exactly `body`, as application/json.
  void ExpectJson(const char* path, int status, const char* body) {
    auto r = Get(path);
    ASSERT_TRUE(r) << path;
    EXPECT_EQ(r->status, status) << path;
    EXPECT_EQ(r->get_header_value("Content-Type"), "application/json") << path;
    EXPECT_EQ(r->body, body) << path;
  }

  metrics::MetricsRegistry metrics_;
  std::atomic<bool> ready_{false};
  MetricsListener listener_{&metrics_, [this] { return ready_.load(); }};
};

TEST_F(MetricsListenerTest, MetricsAreTheRegistryInPrometheusText) {
  auto r = Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), kPrometheus);
  // Exactly the registry: the listener counts none of its own requests.
  EXPECT_EQ(r->body, metrics_.RenderText());
  EXPECT_NE(r->body.find("photo_jobs_total{outcome=\"ack\",stage=\"resize\"} 3"), std::string::npos)
      << r->body;
  metrics_.Add("photo_jobs_total", {{"stage", "resize"}, {"outcome", "ack"}});
  r = Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("photo_jobs_total{outcome=\"ack\",stage=\"resize\"} 4"), std::string::npos)
      << r->body;
  EXPECT_EQ(r->body, metrics_.RenderText());
}

TEST_F(MetricsListenerTest, Healthz) { ExpectJson("/healthz", 200, R"({"status":"ok"})"); }

TEST_F(MetricsListenerTest, ReadyzFollowsTheCallback) {
  ExpectJson("/readyz", 503, R"({"status":"not_ready"})");
  ready_ = true;
  ExpectJson("/readyz", 200, R"({"status":"ready"})");
}

TEST_F(MetricsListenerTest, OtherPathsAndMethodsAreRefused) {
  EXPECT_EQ(Get("/")->status, 404);
  httplib::Client c("127.0.0.1", listener_.port());
  EXPECT_EQ(c.Post("/metrics", "x", "text/plain")->status, 405);
}

TEST(MetricsListenerPortTest, PortZeroPicksAFreePortEachTime) {
  metrics::MetricsRegistry m;
  MetricsListener a(&m, [] { return true; });
  MetricsListener b(&m, [] { return true; });
  ASSERT_TRUE(a.Start(":0").ok());
  ASSERT_TRUE(b.Start("127.0.0.1:0").ok());
  EXPECT_GT(a.port(), 0);
  EXPECT_GT(b.port(), 0);
  EXPECT_NE(a.port(), b.port());
  EXPECT_EQ(StatusOf(a.port(), "/healthz"), 200);
  EXPECT_EQ(StatusOf(b.port(), "/healthz"), 200);
}

TEST(MetricsListenerPortTest, TakenPortIsBindFailedWithTheAddress) {
  metrics::MetricsRegistry m;
  MetricsListener a(&m, [] { return true; });
  ASSERT_TRUE(a.Start("127.0.0.1:0").ok());
  const std::string taken = "127.0.0.1:" + std::to_string(a.port());
  MetricsListener b(&m, [] { return true; });
  Status s = b.Start(taken);
  EXPECT_EQ(s.reason(), "bind_failed");
  EXPECT_EQ(s.message(), "cannot listen on " + taken);
  EXPECT_EQ(b.port(), 0);
  EXPECT_EQ(StatusOf(a.port(), "/healthz"), 200);  // the first one still answers
}

TEST(MetricsListenerPortTest, BadAddressesAndSecondStart) {
  metrics::MetricsRegistry m;
  MetricsListener l(&m, [] { return true; });
  for (const char* bad : {"9100", "host:", "127.0.0.1:65536", "127.0.0.1:x"}) {
    Status s = l.Start(bad);
    EXPECT_EQ(s.reason(), "bad_config") << bad;
    EXPECT_NE(s.message().find("PHOTO_PIPELINE_METRICS_LISTEN"), std::string::npos) << s.message();
  }
  EXPECT_EQ(l.Start("not-an-address:0").reason(), "bind_failed");
  ASSERT_TRUE(l.Start("127.0.0.1:0").ok());
  EXPECT_EQ(l.Start("127.0.0.1:0").reason(), "already_started");
  const int port = l.port();
  l.Stop();
  l.Stop();  // idempotent
  EXPECT_EQ(StatusOf(port, "/healthz"), -1);
}

// A /readyz stuck on the store must not hold up scrapes or liveness.
TEST(MetricsListenerPortTest, SlowReadinessDelaysNoScrape) {
  metrics::MetricsRegistry m;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  MetricsListener l(&m, [released] {
    released.wait_for(std::chrono::seconds(10));
    return true;
  });
  ASSERT_TRUE(l.Start("127.0.0.1:0").ok());
  // As many stuck probes as the listener has pool threads.
  auto slow = std::async(std::launch::async, [&] { return StatusOf(l.port(), "/readyz", 15); });
  auto slow2 = std::async(std::launch::async, [&] { return StatusOf(l.port(), "/readyz", 15); });
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // both probes are waiting
  const auto t0 = std::chrono::steady_clock::now();
  EXPECT_EQ(StatusOf(l.port(), "/metrics", 2), 200);
  EXPECT_EQ(StatusOf(l.port(), "/healthz", 2), 200);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
  release.set_value();
  EXPECT_EQ(slow.get(), 200);
  EXPECT_EQ(slow2.get(), 200);
}

}  // namespace
}  // namespace photo::http
