#include "photo/detect/analyzer.h"

#include <algorithm>

namespace photo::detect {

namespace fs = std::filesystem;

fs::path DefaultModelDir() {
  std::error_code ec;
#ifdef PHOTO_SOURCE_MODEL_DIR
  if (fs::is_directory(PHOTO_SOURCE_MODEL_DIR, ec)) return PHOTO_SOURCE_MODEL_DIR;
#endif
  return "/usr/share/photo-pipeline/models";
}

Analyzer::~Analyzer() = default;

Result<std::unique_ptr<Analyzer>> Analyzer::Create(const AnalyzerOptions& options) {
  std::unique_ptr<Analyzer> a(new Analyzer());
  a->options_ = options;
  if (options.dominant_colors < 1 || options.dominant_colors > 16) {
    return InvalidArgumentError("invalid_config", "dominant colour count must be 1..16");
  }
  if (options.faces) {
    ASSIGN_OR_RETURN(a->faces_, FaceDetector::Create(options.face));
  }
  if (options.classifier) {
    ASSIGN_OR_RETURN(a->classifier_, Classifier::Create(*options.classifier));
    const auto& labels = a->classifier_->labels();
    for (const ReviewRule& r : options.review_rules) {
      if (std::find(labels.begin(), labels.end(), r.label) == labels.end()) {
        return InvalidArgumentError("invalid_config", "review rule names label '" + r.label +
                                                          "', which the classifier's label "
                                                          "file does not have");
      }
    }
  } else if (!options.review_rules.empty()) {
    return InvalidArgumentError("invalid_config",
                                "review rules are set but no classifier model is configured");
  }
  return a;
}

Result<image::Detections> Analyzer::Analyze(const cv::Mat& bgr) const {
  image::Detections d;
  d.analysed_width = bgr.cols;
  d.analysed_height = bgr.rows;
  if (faces_) {
    ASSIGN_OR_RETURN(d.faces, faces_->Detect(bgr));
    d.face_count = static_cast<int>(d.faces.size());
    d.face_model = faces_->name();
    d.checks_ran.push_back("faces");
  }
  ASSIGN_OR_RETURN(d.phash, PerceptualHash(bgr));
  d.checks_ran.push_back("phash");
  ASSIGN_OR_RETURN(d.sharpness, Sharpness(bgr));
  d.blurry = d.sharpness < options_.blur_threshold;
  d.checks_ran.push_back("sharpness");
  ASSIGN_OR_RETURN(d.dominant_colors, DominantColors(bgr, options_.dominant_colors));
  d.checks_ran.push_back("colors");
  if (classifier_) {
    ASSIGN_OR_RETURN(d.labels, classifier_->Classify(bgr));
    d.checks_ran.push_back("classifier");
    d.reasons = ApplyReviewRules(options_.review_rules, d.labels);
    d.content_status = d.reasons.empty() ? "safe" : "review";
  } else {
    d.content_status = "unknown";
  }
  return d;
}

}  // namespace photo::detect
