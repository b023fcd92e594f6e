#include "photo/detect/classifier.h"

#include "photo/detect/dnn_cache.h"

#include <algorithm>
#include <atomic>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <unordered_map>

#include <opencv2/dnn.hpp>

#include "photo/core/files.h"
#include "photo/core/text.h"

namespace photo::detect {
namespace {

namespace fs = std::filesystem;


std::string Strip(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

}  // namespace

struct Classifier::Impl {
  ClassifierOptions options;
  std::uint64_t generation = 0;
  std::vector<uchar> onnx;
  std::vector<std::string> labels;

  cv::dnn::Net& ThreadNet() const { return internal::ThreadOnnxNet(generation, onnx); }

  cv::Mat Forward(const cv::Mat& bgr) const {
    const cv::Mat blob = cv::dnn::blobFromImage(
        bgr, options.scale, cv::Size(options.input_width, options.input_height), options.mean,
        options.rgb, /*crop=*/false, CV_32F);
    cv::dnn::Net& net = ThreadNet();
    net.setInput(blob);
    return net.forward().reshape(1, 1).clone();
  }
};

Classifier::Classifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Classifier::~Classifier() = default;

Result<std::unique_ptr<Classifier>> Classifier::Create(const ClassifierOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->generation = internal::NextModelGeneration();
  std::error_code ec;
  for (const fs::path& p : {options.model, options.labels}) {
    if (!fs::is_regular_file(p, ec)) {
      return NotFoundError("model_missing", "classifier file not found: '" + p.string() + "'");
    }
  }
  if (options.input_width < 1 || options.input_height < 1 || options.input_width > 4096 ||
      options.input_height > 4096) {
    return InvalidArgumentError("invalid_config", "classifier input size must be 1..4096");
  }
  {
    std::ifstream in(options.labels);
    std::string line;
    while (std::getline(in, line)) {
      std::string l = Strip(line);
      if (!l.empty()) impl->labels.push_back(std::move(l));
    }
  }
  if (impl->labels.empty()) {
    return InvalidArgumentError("invalid_config",
                                "classifier label file is empty: " + options.labels.string());
  }
  {
    ASSIGN_OR_RETURN(const std::string bytes, ReadFile(options.model));
    impl->onnx.assign(bytes.begin(), bytes.end());
  }
  try {
    // One dry run on a grey image proves the model loads, runs on the
    // configured input size and has one score per label.
    const cv::Mat grey(options.input_height, options.input_width, CV_8UC3, cv::Scalar::all(128));
    const cv::Mat out = impl->Forward(grey);
    if (out.total() != impl->labels.size()) {
      return InvalidArgumentError("invalid_config",
                                  "classifier has " + std::to_string(out.total()) +
                                      " outputs but the label file has " +
                                      std::to_string(impl->labels.size()) + " labels");
    }
  } catch (const cv::Exception& e) {
    return InternalError("model_invalid",
                         "cannot run classifier " + options.model.string() + ": " + BoundedErrorText(e.what()));
  }
  return std::unique_ptr<Classifier>(new Classifier(std::move(impl)));
}

Result<std::vector<image::Label>> Classifier::Classify(const cv::Mat& bgr) const {
  if (bgr.empty() || bgr.type() != CV_8UC3) {
    return InvalidArgumentError("invalid_image", "expected a non-empty 8-bit BGR image");
  }
  try {
    const cv::Mat out = impl_->Forward(bgr);
    std::vector<double> scores(out.total());
    for (size_t i = 0; i < scores.size(); ++i) scores[i] = out.at<float>(static_cast<int>(i));
    if (impl_->options.softmax && !scores.empty()) {
      const double mx = *std::max_element(scores.begin(), scores.end());
      double sum = 0;
      for (double& s : scores) sum += (s = std::exp(s - mx));
      for (double& s : scores) s /= sum;
    }
    std::vector<image::Label> labels;
    for (size_t i = 0; i < scores.size() && i < impl_->labels.size(); ++i) {
      labels.push_back({impl_->labels[i], scores[i]});
    }
    std::stable_sort(labels.begin(), labels.end(),
                     [](const auto& a, const auto& b) { return a.score > b.score; });
    return labels;
  } catch (const cv::Exception& e) {
    return InternalError("classifier_failed", BoundedErrorText(e.what()));
  }
}

const std::vector<std::string>& Classifier::labels() const { return impl_->labels; }

Result<std::vector<ReviewRule>> ParseReviewRules(std::string_view text) {
  std::vector<ReviewRule> rules;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string_view::npos) end = text.size();
    const std::string item = Strip(text.substr(start, end - start));
    start = end + 1;
    if (item.empty()) {
      if (end == text.size()) break;
      continue;
    }
    const size_t op = item.find(">=");
    auto bad = [&](const std::string& why) {
      return InvalidArgumentError("invalid_config",
                                  "review rule '" + item + "': " + why +
                                      " (expected label>=threshold, e.g. nsfw>=0.5)");
    };
    if (op == std::string::npos) return bad("no '>='");
    ReviewRule r;
    r.label = Strip(std::string_view(item).substr(0, op));
    const std::string num = Strip(std::string_view(item).substr(op + 2));
    if (r.label.empty()) return bad("empty label");
    const char* first = num.data();
    const char* last = num.data() + num.size();
    auto [ptr, ec] = std::from_chars(first, last, r.threshold);
    if (num.empty() || ec != std::errc() || ptr != last || !std::isfinite(r.threshold)) {
      return bad("threshold is not a number");
    }
    rules.push_back(std::move(r));
  }
  return rules;
}

std::vector<std::string> ApplyReviewRules(const std::vector<ReviewRule>& rules,
                                          const std::vector<image::Label>& labels) {
  std::vector<std::string> reasons;
  for (const ReviewRule& r : rules) {
    for (const image::Label& l : labels) {
      if (l.label != r.label || l.score < r.threshold) continue;
      char buf[64];
      std::snprintf(buf, sizeof buf, " %.3f >= %g", l.score, r.threshold);
      reasons.push_back(l.label + buf);
    }
  }
  return reasons;
}

}  // namespace photo::detect
