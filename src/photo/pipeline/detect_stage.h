// The detect stage: analyses an unwatermarked rendition (and the original's
// header for EXIF facts).
//
// Owner: detect. Thread-safe; models are loaded once per process and each
// thread gets its own network instance.
#pragma once

#include <string>
#include <vector>

#include "photo/core/status.h"
#include "photo/image/types.h"
#include "photo/pipeline/layout.h"

namespace photo::pipeline {

struct DetectConfig {
  std::string face_model_dir;     // PHOTO_PIPELINE_MODEL_DIR (default: <repo>/models or /usr/share/photo-pipeline/models)
  double face_threshold = 0.6;
  std::string classifier_model;   // PHOTO_PIPELINE_CLASSIFIER_MODEL (ONNX); empty = none
  std::string classifier_labels;  // PHOTO_PIPELINE_CLASSIFIER_LABELS (one label per line)
  std::string review_rules;       // PHOTO_PIPELINE_REVIEW_RULES, e.g. "nsfw>=0.5,violence>=0.7"
  double blur_threshold = 100.0;

  Status LoadFromEnv();
  Status Validate() const;
};

// Picks the clean (unwatermarked) rendition best suited for analysis, runs
// every check and returns what was found. Reads only; writes nothing.
Result<image::Detections> RunDetect(const DetectConfig& config, const Layout& layout,
                                    const std::string& id,
                                    const std::vector<image::Rendition>& renditions);

}  // namespace photo::pipeline
