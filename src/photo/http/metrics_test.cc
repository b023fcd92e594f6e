#include "photo/http/metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace photo::metrics {
namespace {

bool Contains(const std::string& text, const std::string& needle) {
  return text.find(needle) != std::string::npos;
}

TEST(MetricsRegistryTest, CounterSeriesIgnoreLabelOrder) {
  MetricsRegistry m;
  m.DeclareCounter("req_total", "Requests.");
  m.Add("req_total", {{"route", "/a"}, {"code", "200"}});
  m.Add("req_total", {{"code", "200"}, {"route", "/a"}}, 2);
  m.Add("req_total", {{"route", "/b"}, {"code", "404"}});
  EXPECT_EQ(m.Value("req_total", {{"route", "/a"}, {"code", "200"}}), 3);
  EXPECT_EQ(m.Value("req_total", {{"route", "/b"}, {"code", "404"}}), 1);
  EXPECT_EQ(m.Value("req_total", {{"route", "/c"}}), 0);
  std::string text = m.RenderText();
  EXPECT_TRUE(Contains(text, "# HELP req_total Requests.\n# TYPE req_total counter\n"));
  EXPECT_TRUE(Contains(text, "req_total{code=\"200\",route=\"/a\"} 3\n")) << text;
  EXPECT_TRUE(Contains(text, "req_total{code=\"404\",route=\"/b\"} 1\n")) << text;
}

TEST(MetricsRegistryTest, CountersOnlyRise) {
  MetricsRegistry m;
  m.Add("c_total", {}, 5);
  m.Add("c_total", {}, -3);
  EXPECT_EQ(m.Value("c_total"), 5);
  EXPECT_TRUE(Contains(m.RenderText(), "c_total 5\n"));
}

TEST(MetricsRegistryTest, GaugeIsSetNotAdded) {
  MetricsRegistry m;
  m.DeclareGauge("images", "Images by status.");
  m.Set("images", {{"status", "uploaded"}}, 4);
  m.Set("images", {{"status", "uploaded"}}, 2);
  EXPECT_EQ(m.Value("images", {{"status", "uploaded"}}), 2);
  EXPECT_TRUE(Contains(m.RenderText(), "# TYPE images gauge\nimages{status=\"uploaded\"} 2\n"));
}

TEST(MetricsRegistryTest, HistogramBucketsAreCumulative) {
  MetricsRegistry m;
  m.DeclareHistogram("lat_seconds", "Latency.", {0.1, 1, 0.5});  // unsorted on purpose
  m.Observe("lat_seconds", {{"route", "/x"}}, 0.05);
  m.Observe("lat_seconds", {{"route", "/x"}}, 0.5);  // le is inclusive
  m.Observe("lat_seconds", {{"route", "/x"}}, 3);
  EXPECT_EQ(m.SampleCount("lat_seconds", {{"route", "/x"}}), 3u);
  std::string text = m.RenderText();
  EXPECT_TRUE(Contains(text, "# TYPE lat_seconds histogram\n"));
  EXPECT_TRUE(Contains(text, "lat_seconds_bucket{route=\"/x\",le=\"0.1\"} 1\n")) << text;
  EXPECT_TRUE(Contains(text, "lat_seconds_bucket{route=\"/x\",le=\"0.5\"} 2\n")) << text;
  EXPECT_TRUE(Contains(text, "lat_seconds_bucket{route=\"/x\",le=\"1\"} 2\n")) << text;
  EXPECT_TRUE(Contains(text, "lat_seconds_bucket{route=\"/x\",le=\"+Inf\"} 3\n")) << text;
  EXPECT_TRUE(Contains(text, "lat_seconds_sum{route=\"/x\"} 3.55\n")) << text;
  EXPECT_TRUE(Contains(text, "lat_seconds_count{route=\"/x\"} 3\n")) << text;
}

TEST(MetricsRegistryTest, LabelValuesAreEscaped) {
  MetricsRegistry m;
  m.Add("odd_total", {{"v", "a\"b\\c\nd"}});
  EXPECT_TRUE(Contains(m.RenderText(), "odd_total{v=\"a\\\"b\\\\c\\nd\"} 1\n")) << m.RenderText();
}

TEST(MetricsRegistryTest, OneNameKeepsItsFirstType) {
  MetricsRegistry m;
  m.Add("x", {}, 1);
  m.Set("x", {}, 7);  // ignored: x is a counter
  m.Observe("x", {}, 1);
  EXPECT_EQ(m.Value("x"), 1);
  EXPECT_EQ(m.SampleCount("x"), 0u);
}

TEST(MetricsRegistryTest, ConcurrentAddsAreNotLost) {
  MetricsRegistry m;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&m] {
      for (int i = 0; i < 10000; ++i) {
        m.Add("n_total", {{"k", "v"}});
        m.Observe("h", {}, 0.01);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(m.Value("n_total", {{"k", "v"}}), 40000);
  EXPECT_EQ(m.SampleCount("h"), 40000u);
}

}  // namespace
}  // namespace photo::metrics
