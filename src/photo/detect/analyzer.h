// All detect checks over one decoded image, composed: faces, perceptual hash,
// sharpness, dominant colours and (optionally) the classifier with its review
// rules. EXIF is read from the original's header by the caller
// (ReadExifSummary) because it needs the original, not the analysed pixels.
//
// Threading: an Analyzer is immutable after Create() and Analyze() may run on
// many threads at once (the detectors keep one network per thread).
#pragma once

#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "photo/core/status.h"
#include "photo/detect/checks.h"
#include "photo/detect/classifier.h"
#include "photo/detect/faces.h"
#include "photo/image/types.h"

namespace photo::detect {

// The model directory used when none is configured: <source dir>/models at
// build time (where scripts/fetch-models.sh puts it) if it exists, else
// /usr/share/photo-pipeline/models.
std::filesystem::path DefaultModelDir();

struct AnalyzerOptions {
  bool faces = true;
  FaceOptions face;
  double blur_threshold = 100.0;  // sharpness below this => blurry
  int dominant_colors = 5;        // 1..16
  std::optional<ClassifierOptions> classifier;
  std::vector<ReviewRule> review_rules;  // ignored without a classifier
};

class Analyzer {
 public:
  // Loads every configured model. Errors are those of FaceDetector::Create
  // and Classifier::Create, plus InvalidArgument("invalid_config") when a
  // review rule names a label the classifier does not have, or rules are
  // given without a classifier (they could never fire, which would silently
  // send nothing to review).
  static Result<std::unique_ptr<Analyzer>> Create(const AnalyzerOptions& options);
  ~Analyzer();
  Analyzer(const Analyzer&) = delete;
  Analyzer& operator=(const Analyzer&) = delete;

  // Runs every check on `bgr` (CV_8UC3). Fills faces/face_count/face_model,
  // analysed_width/height, phash, sharpness/blurry, dominant_colors, labels,
  // content_status, reasons and checks_ran; leaves exif untouched.
  // content_status: with a classifier, "review" when any rule fires (reasons
  // say which) else "safe"; without one, "unknown" — the other checks say
  // nothing about content, so claiming "safe" would be a lie.
  Result<image::Detections> Analyze(const cv::Mat& bgr) const;

  const AnalyzerOptions& options() const { return options_; }

 private:
  Analyzer() = default;
  AnalyzerOptions options_;
  std::unique_ptr<FaceDetector> faces_;
  std::unique_ptr<Classifier> classifier_;
};

}  // namespace photo::detect
