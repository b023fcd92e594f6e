#include "photo/http/metrics.h"

#include <algorithm>
#include <cmath>
#include <charconv>

namespace photo::metrics {
namespace {

std::string EscapeLabelValue(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// `a="x",b="y"`, sorted by label name, so that equal sets map to one series
// whatever order the caller listed them in.
std::string CanonicalLabels(const Labels& labels) {
  Labels sorted = labels;
  std::sort(sorted.begin(), sorted.end());
  std::string out;
  for (const auto& [k, v] : sorted) {
    if (!out.empty()) out += ',';
    out += k;
    out += "=\"";
    out += EscapeLabelValue(v);
    out += '"';
  }
  return out;
}

std::string FormatNumber(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Shortest text that reads back to the same double: "0.005", "42", "1e+20".
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  if (ec != std::errc()) return "NaN";
  return std::string(buf, end);
}

std::string Series(std::string_view name, std::string_view labels) {
  std::string out(name);
  if (!labels.empty()) {
    out += '{';
    out += labels;
    out += '}';
  }
  return out;
}

}  // namespace

std::vector<double> DefaultLatencyBuckets() {
  return {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30};
}

MetricsRegistry::Family* MetricsRegistry::FindOrDeclare(std::string_view name, Type type) {
  auto it = families_.find(name);
  if (it == families_.end()) {
    Family f;
    f.type = type;
    if (type == Type::kHistogram) f.buckets = DefaultLatencyBuckets();
    it = families_.emplace(std::string(name), std::move(f)).first;
  }
  return it->second.type == type ? &it->second : nullptr;
}

void MetricsRegistry::DeclareCounter(std::string_view name, std::string_view help) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Family* f = FindOrDeclare(name, Type::kCounter)) f->help = help;
}

void MetricsRegistry::DeclareGauge(std::string_view name, std::string_view help) {
  std::lock_guard<std::mutex> lock(mu_);
  if (Family* f = FindOrDeclare(name, Type::kGauge)) f->help = help;
}

void MetricsRegistry::DeclareHistogram(std::string_view name, std::string_view help,
                                       std::vector<double> buckets) {
  std::sort(buckets.begin(), buckets.end());
  buckets.erase(std::unique(buckets.begin(), buckets.end()), buckets.end());
  std::lock_guard<std::mutex> lock(mu_);
  Family* f = FindOrDeclare(name, Type::kHistogram);
  if (f == nullptr) return;
  f->help = help;
  // Changing the bounds of series that already hold samples would corrupt
  // them; declare before the first Observe.
  if (f->histograms.empty()) f->buckets = std::move(buckets);
}

void MetricsRegistry::Add(std::string_view name, const Labels& labels, double delta) {
  if (!(delta >= 0)) return;
  std::string key = CanonicalLabels(labels);
  std::lock_guard<std::mutex> lock(mu_);
  if (Family* f = FindOrDeclare(name, Type::kCounter)) f->values[key] += delta;
}

void MetricsRegistry::Set(std::string_view name, const Labels& labels, double value) {
  std::string key = CanonicalLabels(labels);
  std::lock_guard<std::mutex> lock(mu_);
  if (Family* f = FindOrDeclare(name, Type::kGauge)) f->values[key] = value;
}

void MetricsRegistry::Observe(std::string_view name, const Labels& labels, double value) {
  std::string key = CanonicalLabels(labels);
  std::lock_guard<std::mutex> lock(mu_);
  Family* f = FindOrDeclare(name, Type::kHistogram);
  if (f == nullptr) return;
  Histogram& h = f->histograms[key];
  if (h.bucket_counts.size() != f->buckets.size()) h.bucket_counts.assign(f->buckets.size(), 0);
  auto it = std::lower_bound(f->buckets.begin(), f->buckets.end(), value);
  if (it != f->buckets.end()) ++h.bucket_counts[static_cast<size_t>(it - f->buckets.begin())];
  ++h.count;
  h.sum += value;
}

double MetricsRegistry::Value(std::string_view name, const Labels& labels) const {
  std::string key = CanonicalLabels(labels);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  auto v = it->second.values.find(key);
  return v == it->second.values.end() ? 0 : v->second;
}

std::uint64_t MetricsRegistry::SampleCount(std::string_view name, const Labels& labels) const {
  std::string key = CanonicalLabels(labels);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = families_.find(name);
  if (it == families_.end()) return 0;
  auto h = it->second.histograms.find(key);
  return h == it->second.histograms.end() ? 0 : h->second.count;
}

std::string MetricsRegistry::RenderText() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& [name, f] : families_) {
    if (!f.help.empty()) out += "# HELP " + name + " " + EscapeHelp(f.help) + "\n";
    const char* type = f.type == Type::kCounter ? "counter"
                       : f.type == Type::kGauge ? "gauge"
                                                : "histogram";
    out += "# TYPE " + name + " " + type + "\n";
    if (f.type != Type::kHistogram) {
      for (const auto& [labels, value] : f.values) {
        out += Series(name, labels) + " " + FormatNumber(value) + "\n";
      }
      continue;
    }
    for (const auto& [labels, h] : f.histograms) {
      std::string prefix = labels.empty() ? "" : labels + ",";
      std::uint64_t cumulative = 0;
      for (size_t i = 0; i < f.buckets.size(); ++i) {
        cumulative += i < h.bucket_counts.size() ? h.bucket_counts[i] : 0;
        out += Series(name + "_bucket", prefix + "le=\"" + FormatNumber(f.buckets[i]) + "\"") +
               " " + std::to_string(cumulative) + "\n";
      }
      out += Series(name + "_bucket", prefix + "le=\"+Inf\"") + " " + std::to_string(h.count) +
             "\n";
      out += Series(name + "_sum", labels) + " " + FormatNumber(h.sum) + "\n";
      out += Series(name + "_count", labels) + " " + std::to_string(h.count) + "\n";
    }
  }
  return out;
}

}  // namespace photo::metrics
