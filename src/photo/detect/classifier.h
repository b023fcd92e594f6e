// Optional content classifier: any single-output ONNX image classifier plus
// a label file, run with cv::dnn, and the review rules that turn its scores
// into content_status "safe" / "review".
//
// Threading: a Classifier is immutable after Create(); Classify() may be
// called from many threads at once (each thread builds its own cv::dnn::Net
// from the model bytes read once at Create()).
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

#include "photo/core/status.h"
#include "photo/image/types.h"

namespace photo::detect {

struct ClassifierOptions {
  std::filesystem::path model;   // ONNX file; one input (NCHW), one output of N scores
  std::filesystem::path labels;  // N lines, one label per line, in output order
  int input_width = 224;
  int input_height = 224;
  // Preprocessing, as cv::dnn::blobFromImage does it: (pixel - mean) * scale,
  // mean given in the model's channel order.
  cv::Scalar mean = {0, 0, 0};
  double scale = 1.0 / 255.0;
  bool rgb = true;       // feed RGB (most models) rather than OpenCV's BGR
  bool softmax = false;  // apply softmax to the outputs (models that emit logits)
};

class Classifier {
 public:
  // Reads the model and labels, builds one network to check them and checks
  // that the output size equals the label count. Errors: NotFound
  // ("model_missing"), InvalidArgument("invalid_config") for a bad label file
  // or size mismatch, Internal("model_invalid") when OpenCV rejects the model.
  static Result<std::unique_ptr<Classifier>> Create(const ClassifierOptions& options);
  ~Classifier();
  Classifier(const Classifier&) = delete;
  Classifier& operator=(const Classifier&) = delete;

  // One Label per label-file entry, sorted by score (descending).
  Result<std::vector<image::Label>> Classify(const cv::Mat& bgr) const;
  const std::vector<std::string>& labels() const;

 private:
  struct Impl;
  explicit Classifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// "label>=threshold"; an image is sent to review when any rule holds.
struct ReviewRule {
  std::string label;
  double threshold = 0;
};

// Parses "nsfw>=0.5, weapon>=0.7" (whitespace ignored, empty string = no
// rules; only ">=" exists, the threshold is any finite number). Errors:
// InvalidArgument("invalid_config") naming the bad item.
Result<std::vector<ReviewRule>> ParseReviewRules(std::string_view text);

// The reasons the rules fire for these labels, e.g. {"nsfw 0.83 >= 0.5"}, in
// rule order; empty = none fired.
std::vector<std::string> ApplyReviewRules(const std::vector<ReviewRule>& rules,
                                          const std::vector<image::Label>& labels);

}  // namespace photo::detect
