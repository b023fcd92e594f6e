// MetricsRegistry: a small thread-safe registry of counters, gauges and
// histograms, rendered in the Prometheus text exposition format (0.0.4).
//
// Built as its own library (photo::http_metrics, core only) so that workers
// can count with the same class without depending on the HTTP server.
//
// A metric family is declared once (name, help, type; histograms also take
// their bucket bounds) and then updated with a label set. Updating a name that
// was never declared declares it on the fly with empty help (counters for Add,
// gauges for Set, histograms with DefaultLatencyBuckets for Observe), so a
// forgotten Declare costs a HELP line, not a lost sample. Using one name as
// two types is a programming error: the later call is ignored.
//
// Names and label names must match [a-zA-Z_:][a-zA-Z0-9_:]* (not checked:
// they are compile-time constants in our code). Label VALUES are escaped on
// output, so they may be anything; keep their number small (a route pattern,
// never a raw path or an id).
//
// Every method is safe to call from any thread; one mutex guards the whole
// registry (updates are a map lookup; scraping is rare).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace photo::metrics {

// Label name -> value. Order does not matter: label sets are canonicalised.
using Labels = std::vector<std::pair<std::string, std::string>>;

// 5 ms .. 30 s, roughly x2.5 apart: HTTP handlers and pipeline stages.
std::vector<double> DefaultLatencyBuckets();

class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  void DeclareCounter(std::string_view name, std::string_view help);
  void DeclareGauge(std::string_view name, std::string_view help);
  // `buckets`: upper bounds, ascending; +Inf is implicit.
  void DeclareHistogram(std::string_view name, std::string_view help, std::vector<double> buckets);

  // Counter += delta (delta >= 0; negative deltas are ignored: counters only rise).
  void Add(std::string_view name, const Labels& labels = {}, double delta = 1);
  // Gauge = value.
  void Set(std::string_view name, const Labels& labels, double value);
  // Histogram sample.
  void Observe(std::string_view name, const Labels& labels, double value);

  // Current value of a counter or gauge (0 when absent). For tests and
  // internal decisions; scrapers use RenderText.
  double Value(std::string_view name, const Labels& labels = {}) const;
  // Number of samples a histogram has seen (0 when absent).
  std::uint64_t SampleCount(std::string_view name, const Labels& labels = {}) const;

  // The whole registry in Prometheus text format, families sorted by name.
  std::string RenderText() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Histogram {
    std::vector<std::uint64_t> bucket_counts;  // per bound, not cumulative
    std::uint64_t count = 0;
    double sum = 0;
  };
  struct Family {
    Type type = Type::kCounter;
    std::string help;
    std::vector<double> buckets;
    std::map<std::string, double> values;         // canonical labels -> value
    std::map<std::string, Histogram> histograms;  // canonical labels -> histogram
  };

  Family* FindOrDeclare(std::string_view name, Type type);  // requires mu_

  mutable std::mutex mu_;
  std::map<std::string, Family, std::less<>> families_;
};

}  // namespace photo::metrics
