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

// Every field has a PHOTO_PIPELINE_* environment variable (named beside it)
// and a default that works after scripts/setup.sh. See docs/stages/detect.md.
struct DetectConfig {
  // PHOTO_PIPELINE_MODEL_DIR: where the BlazeFace .onnx files are. Empty =
  // <source dir>/models if present, else /usr/share/photo-pipeline/models.
  std::string face_model_dir;
  // PHOTO_PIPELINE_FACE_MODEL: blazeface-back-256 | blazeface-front-128 |
  // haar | lbp | none (no face detection).
  std::string face_model = "blazeface-back-256";
  double face_threshold = 0.75;  // PHOTO_PIPELINE_FACE_THRESHOLD, 0..1 (BlazeFace score)
  // PHOTO_PIPELINE_FACE_TILE: tile side in px of the analysed image for a
  // second, tiled BlazeFace pass that finds small faces; 0 = whole image only.
  int face_tile_px = 512;
  // PHOTO_PIPELINE_FACE_CANDIDATE: tiles run only around whole-image
  // candidates scoring at least this (detect::FaceOptions::
  // candidate_threshold); 0 = every tile of the grid.
  double face_candidate_threshold = 0.2;
  // PHOTO_PIPELINE_FACE_MIN_SIZE: inputs with a shorter long edge are
  // enlarged to it (at most 4x) for face detection; 0 = never.
  int face_min_long_edge = 1024;
  bool face_mirror = true;   // PHOTO_PIPELINE_FACE_MIRROR: add mirrored passes (profiles)
  // PHOTO_PIPELINE_FACE_MAX_PASSES: BlazeFace inferences per image at most; 0 = no bound.
  int face_max_passes = 10;
  // PHOTO_PIPELINE_ANALYSIS_SIZE: the clean rendition whose long edge is
  // nearest to this is analysed (the original, shrunk to it, when there is none).
  int analysis_long_edge = 1280;
  std::string classifier_model;   // PHOTO_PIPELINE_CLASSIFIER_MODEL (ONNX); empty = none
  std::string classifier_labels;  // PHOTO_PIPELINE_CLASSIFIER_LABELS (one label per line)
  // PHOTO_PIPELINE_CLASSIFIER_INPUT "WxH" (or "N" for NxN).
  int classifier_width = 224;
  int classifier_height = 224;
  // PHOTO_PIPELINE_CLASSIFIER_MEAN "r,g,b" (or one value), subtracted before scaling,
  // in the model's channel order.
  double classifier_mean[3] = {0, 0, 0};
  double classifier_scale = 1.0 / 255.0;  // PHOTO_PIPELINE_CLASSIFIER_SCALE
  bool classifier_rgb = true;             // PHOTO_PIPELINE_CLASSIFIER_RGB (0 = feed BGR)
  bool classifier_softmax = false;        // PHOTO_PIPELINE_CLASSIFIER_SOFTMAX
  std::string review_rules;  // PHOTO_PIPELINE_REVIEW_RULES, e.g. "nsfw>=0.5,violence>=0.7"
  double blur_threshold = 100.0;  // PHOTO_PIPELINE_BLUR_THRESHOLD (variance of Laplacian at 800 px)
  int dominant_colors = 5;        // PHOTO_PIPELINE_DOMINANT_COLORS, 1..16
  // PHOTO_PIPELINE_OPENCV_THREADS: cv::setNumThreads for the process; 0 =
  // leave OpenCV's default (one per core). 1 suits one worker per core.
  int opencv_threads = 1;
  // Code only (benchmarks compare): the clean JPEG rendition is decoded by
  // libjpeg-turbo directly (same pixels as libvips, detect::DecodeBgr).
  bool direct_jpeg_decode = true;

  // Overlays the environment onto the defaults. Errors:
  // InvalidArgument("invalid_config") naming the variable.
  Status LoadFromEnv();
  // Range and consistency checks (no file access). Errors:
  // InvalidArgument("invalid_config").
  Status Validate() const;
};

// Loads (once per process) every model the configuration names, so that a
// worker fails at startup rather than on its first job. Errors: those of
// Validate, NotFound("model_missing"), Internal("model_invalid").
Status PrepareDetect(const DetectConfig& config);

// A rendition RunDetectAndCrop may analyse.
struct AnalysisCandidate {
  image::Rendition rendition;  // path: the file to read (relative to layout.data_dir() or absolute)
  bool twin = false;           // a watermarked rendition's clean twin: may be gone
};

// What RunDetectAndCrop may analyse, best first: every rendition, a
// watermarked one replaced by its clean twin (layout.CleanRendition), ordered
// by how near its long edge is to config.analysis_long_edge (the larger on a
// tie). It analyses the first that is not a twin or whose twin file exists,
// else the original. Exposed so that a worker on remote storage fetches only
// that file (worker/staging.h). Pure.
std::vector<AnalysisCandidate> AnalysisCandidates(const DetectConfig& config,
                                                  const Layout& layout, const std::string& id,
                                                  const std::vector<image::Rendition>& renditions);

// Picks the clean (unwatermarked) rendition best suited for analysis (long
// edge nearest config.analysis_long_edge; paths relative to
// layout.data_dir() or absolute), runs every check, reads EXIF from
// layout.Original(id) and returns what was found. Reads only; writes nothing;
// idempotent. Errors: NotFound("not_found") for a missing rendition or
// original (permanent), InvalidArgument("corrupt_image") when it cannot be
// decoded, the model errors of PrepareDetect, Internal for OpenCV failures.
Result<image::Detections> RunDetect(const DetectConfig& config, const Layout& layout,
                                    const std::string& id,
                                    const std::vector<image::Rendition>& renditions);

struct DetectOutput {
  image::Detections detections;  // crops lists where each crop was cut
  std::vector<image::Rendition> crops;  // one per crop spec, in spec order
};

// RunDetect, then one face-aware crop rendition per spec with is_crop()
// (other specs are ignored: the resize stage made those), cut from the
// analysed pixels (detect/crop.h: faces kept in frame, else libvips'
// attention crop), encoded with the spec's format and quality and written
// atomically to layout.FinalRendition. The detect stage makes them because
// the face boxes exist only here (docs/stages/detect.md, "Face-aware crops").
// Idempotent: a rerun rewrites identical files. Errors: those of RunDetect;
// io_error (kUnavailable) when a file cannot be written; Internal for an
// encoder failure.
Result<DetectOutput> RunDetectAndCrop(const DetectConfig& config, const Layout& layout,
                                      const std::string& id,
                                      const std::vector<image::Rendition>& renditions,
                                      const std::vector<image::RenditionSpec>& specs);

}  // namespace photo::pipeline
