#include "photo/pipeline/detect_stage.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <algorithm>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <utility>

#include <opencv2/core/utility.hpp>

#include "photo/core/files.h"
#include "photo/core/text.h"
#include "photo/detect/analyzer.h"
#include "photo/detect/classifier.h"
#include "photo/detect/crop.h"
#include "photo/detect/image_io.h"

namespace photo::pipeline {
namespace {

namespace fs = std::filesystem;

Status BadEnv(const char* name, const std::string& value, const char* want) {
  return InvalidArgumentError("invalid_config", std::string(name) + "='" + value + "': expected " +
                                                    want);
}

const char* Env(const char* name) {
  const char* v = std::getenv(name);
  return (v != nullptr && *v != '\0') ? v : nullptr;
}

bool ParseDouble(std::string_view s, double& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size() && std::isfinite(out);
}
bool ParseInt(std::string_view s, int& out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && p == s.data() + s.size();
}
bool ParseBool(std::string_view s, bool& out) {
  const std::optional<bool> v = ParseBoolSetting(s);
  if (v) out = *v;
  return v.has_value();
}

Status EnvDouble(const char* name, double& field) {
  if (const char* v = Env(name); v && !ParseDouble(v, field)) return BadEnv(name, v, "a number");
  return Status::Ok();
}
Status EnvInt(const char* name, int& field) {
  if (const char* v = Env(name); v && !ParseInt(v, field)) return BadEnv(name, v, "an integer");
  return Status::Ok();
}
Status EnvBool(const char* name, bool& field) {
  if (const char* v = Env(name); v && !ParseBool(v, field)) return BadEnv(name, v, "0 or 1");
  return Status::Ok();
}
void EnvString(const char* name, std::string& field) {
  if (const char* v = Env(name)) field = v;
}

Result<detect::AnalyzerOptions> ToAnalyzerOptions(const DetectConfig& c) {
  RETURN_IF_ERROR(c.Validate());
  detect::AnalyzerOptions o;
  o.faces = c.face_model != "none";
  if (o.faces) {
    ASSIGN_OR_RETURN(o.face.kind, detect::ParseFaceModel(c.face_model));
  }
  o.face.model_dir =
      c.face_model_dir.empty() ? detect::DefaultModelDir() : fs::path(c.face_model_dir);
  o.face.score_threshold = c.face_threshold;
  o.face.tile_px = c.face_tile_px;
  o.face.candidate_threshold = c.face_candidate_threshold;
  o.face.min_long_edge = c.face_min_long_edge;
  o.face.mirror = c.face_mirror;
  o.face.max_passes = c.face_max_passes;
  o.blur_threshold = c.blur_threshold;
  o.dominant_colors = c.dominant_colors;
  if (!c.classifier_model.empty()) {
    detect::ClassifierOptions k;
    k.model = c.classifier_model;
    k.labels = c.classifier_labels;
    k.input_width = c.classifier_width;
    k.input_height = c.classifier_height;
    k.mean = cv::Scalar(c.classifier_mean[0], c.classifier_mean[1], c.classifier_mean[2]);
    k.scale = c.classifier_scale;
    k.rgb = c.classifier_rgb;
    k.softmax = c.classifier_softmax;
    o.classifier = k;
  }
  ASSIGN_OR_RETURN(o.review_rules, detect::ParseReviewRules(c.review_rules));
  return o;
}

// One analyzer per distinct configuration, for the life of the process: the
// models are read once and every worker thread shares them.
Result<std::shared_ptr<const detect::Analyzer>> GetAnalyzer(const DetectConfig& c) {
  std::ostringstream key;
  key << c.face_model_dir << '|' << c.face_model << '|' << c.face_threshold << '|'
      << c.face_tile_px << '|' << c.face_candidate_threshold << '|' << c.face_min_long_edge << '|'
      << c.face_mirror << '|' << c.face_max_passes << '|' << c.classifier_model << '|' << c.classifier_labels << '|'
      << c.classifier_width << 'x' << c.classifier_height << '|' << c.classifier_mean[0] << ','
      << c.classifier_mean[1] << ',' << c.classifier_mean[2] << '|' << c.classifier_scale << '|'
      << c.classifier_rgb << c.classifier_softmax << '|' << c.review_rules << '|'
      << c.blur_threshold << '|' << c.dominant_colors;
  static std::mutex mu;
  static std::map<std::string, std::shared_ptr<const detect::Analyzer>> cache;
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache.find(key.str()); it != cache.end()) return it->second;
  ASSIGN_OR_RETURN(detect::AnalyzerOptions options, ToAnalyzerOptions(c));
  if (c.opencv_threads > 0) cv::setNumThreads(c.opencv_threads);
  ASSIGN_OR_RETURN(std::unique_ptr<detect::Analyzer> a, detect::Analyzer::Create(options));
  std::shared_ptr<const detect::Analyzer> shared(std::move(a));
  cache.emplace(key.str(), shared);
  return shared;
}

}  // namespace

Status DetectConfig::LoadFromEnv() {
  EnvString("PHOTO_PIPELINE_MODEL_DIR", face_model_dir);
  EnvString("PHOTO_PIPELINE_FACE_MODEL", face_model);
  RETURN_IF_ERROR(EnvDouble("PHOTO_PIPELINE_FACE_THRESHOLD", face_threshold));
  RETURN_IF_ERROR(EnvInt("PHOTO_PIPELINE_FACE_TILE", face_tile_px));
  RETURN_IF_ERROR(EnvDouble("PHOTO_PIPELINE_FACE_CANDIDATE", face_candidate_threshold));
  RETURN_IF_ERROR(EnvInt("PHOTO_PIPELINE_FACE_MIN_SIZE", face_min_long_edge));
  RETURN_IF_ERROR(EnvBool("PHOTO_PIPELINE_FACE_MIRROR", face_mirror));
  RETURN_IF_ERROR(EnvInt("PHOTO_PIPELINE_FACE_MAX_PASSES", face_max_passes));
  RETURN_IF_ERROR(EnvInt("PHOTO_PIPELINE_ANALYSIS_SIZE", analysis_long_edge));
  EnvString("PHOTO_PIPELINE_CLASSIFIER_MODEL", classifier_model);
  EnvString("PHOTO_PIPELINE_CLASSIFIER_LABELS", classifier_labels);
  if (const char* v = Env("PHOTO_PIPELINE_CLASSIFIER_INPUT")) {
    const std::string_view s(v);
    const size_t x = s.find('x');
    const bool ok = x == std::string_view::npos
                        ? ParseInt(s, classifier_width) && ParseInt(s, classifier_height)
                        : ParseInt(s.substr(0, x), classifier_width) &&
                              ParseInt(s.substr(x + 1), classifier_height);
    if (!ok) return BadEnv("PHOTO_PIPELINE_CLASSIFIER_INPUT", v, "WxH or N");
  }
  if (const char* v = Env("PHOTO_PIPELINE_CLASSIFIER_MEAN")) {
    std::vector<double> vals;
    std::string_view s(v);
    while (true) {
      const size_t comma = s.find(',');
      double d = 0;
      if (!ParseDouble(s.substr(0, comma), d)) {
        return BadEnv("PHOTO_PIPELINE_CLASSIFIER_MEAN", v, "'m' or 'm1,m2,m3'");
      }
      vals.push_back(d);
      if (comma == std::string_view::npos) break;
      s.remove_prefix(comma + 1);
    }
    if (vals.size() != 1 && vals.size() != 3) {
      return BadEnv("PHOTO_PIPELINE_CLASSIFIER_MEAN", v, "'m' or 'm1,m2,m3'");
    }
    for (int i = 0; i < 3; ++i) classifier_mean[i] = vals[vals.size() == 1 ? 0 : i];
  }
  RETURN_IF_ERROR(EnvDouble("PHOTO_PIPELINE_CLASSIFIER_SCALE", classifier_scale));
  RETURN_IF_ERROR(EnvBool("PHOTO_PIPELINE_CLASSIFIER_RGB", classifier_rgb));
  RETURN_IF_ERROR(EnvBool("PHOTO_PIPELINE_CLASSIFIER_SOFTMAX", classifier_softmax));
  EnvString("PHOTO_PIPELINE_REVIEW_RULES", review_rules);
  RETURN_IF_ERROR(EnvDouble("PHOTO_PIPELINE_BLUR_THRESHOLD", blur_threshold));
  RETURN_IF_ERROR(EnvInt("PHOTO_PIPELINE_DOMINANT_COLORS", dominant_colors));
  RETURN_IF_ERROR(EnvInt("PHOTO_PIPELINE_OPENCV_THREADS", opencv_threads));
  return Validate();
}

Status DetectConfig::Validate() const {
  auto bad = [](const std::string& m) { return InvalidArgumentError("invalid_config", m); };
  if (face_model != "none" && !detect::ParseFaceModel(face_model).ok()) {
    return bad("PHOTO_PIPELINE_FACE_MODEL must be blazeface-back-256, blazeface-front-128, "
               "haar, lbp or none; got '" + face_model + "'");
  }
  if (!(face_threshold >= 0 && face_threshold <= 1)) {
    return bad("PHOTO_PIPELINE_FACE_THRESHOLD must be within 0..1");
  }
  if (face_tile_px != 0 && (face_tile_px < 128 || face_tile_px > 4096)) {
    return bad("PHOTO_PIPELINE_FACE_TILE must be 0 (off) or 128..4096");
  }
  if (!(face_candidate_threshold >= 0 && face_candidate_threshold <= 1)) {
    return bad("PHOTO_PIPELINE_FACE_CANDIDATE must be within 0..1");
  }
  if (face_min_long_edge != 0 && (face_min_long_edge < 64 || face_min_long_edge > 4096)) {
    return bad("PHOTO_PIPELINE_FACE_MIN_SIZE must be 0 (off) or 64..4096");
  }
  if (face_max_passes < 0 || face_max_passes > 1000) {
    return bad("PHOTO_PIPELINE_FACE_MAX_PASSES must be 0 (no bound) or 1..1000");
  }
  if (analysis_long_edge < 64 || analysis_long_edge > 8192) {
    return bad("PHOTO_PIPELINE_ANALYSIS_SIZE must be 64..8192");
  }
  if (classifier_model.empty() != classifier_labels.empty()) {
    return bad("PHOTO_PIPELINE_CLASSIFIER_MODEL and PHOTO_PIPELINE_CLASSIFIER_LABELS go together");
  }
  if (classifier_width < 1 || classifier_height < 1 || classifier_width > 4096 ||
      classifier_height > 4096) {
    return bad("PHOTO_PIPELINE_CLASSIFIER_INPUT sides must be 1..4096");
  }
  if (!(classifier_scale > 0) || !std::isfinite(classifier_scale)) {
    return bad("PHOTO_PIPELINE_CLASSIFIER_SCALE must be > 0");
  }
  auto rules = detect::ParseReviewRules(review_rules);
  if (!rules.ok()) return rules.error();
  if (!rules->empty() && classifier_model.empty()) {
    return bad("PHOTO_PIPELINE_REVIEW_RULES needs PHOTO_PIPELINE_CLASSIFIER_MODEL");
  }
  if (!(blur_threshold >= 0) || !std::isfinite(blur_threshold)) {
    return bad("PHOTO_PIPELINE_BLUR_THRESHOLD must be >= 0");
  }
  if (dominant_colors < 1 || dominant_colors > 16) {
    return bad("PHOTO_PIPELINE_DOMINANT_COLORS must be 1..16");
  }
  if (opencv_threads < 0 || opencv_threads > 256) {
    return bad("PHOTO_PIPELINE_OPENCV_THREADS must be 0..256");
  }
  return Status::Ok();
}

Status PrepareDetect(const DetectConfig& config) { return GetAnalyzer(config).status(); }

Result<image::Detections> RunDetect(const DetectConfig& config, const Layout& layout,
                                    const std::string& id,
                                    const std::vector<image::Rendition>& renditions) {
  ASSIGN_OR_RETURN(DetectOutput out, RunDetectAndCrop(config, layout, id, renditions, {}));
  return std::move(out.detections);
}

std::vector<AnalysisCandidate> AnalysisCandidates(const DetectConfig& config,
                                                  const Layout& layout, const std::string& id,
                                                  const std::vector<image::Rendition>& renditions) {
  std::vector<AnalysisCandidate> out;
  for (const image::Rendition& r : renditions) {
    AnalysisCandidate c{r, false};
    if (r.watermarked) {
      // Watermark pixels would disturb the hash, the colours and the
      // classifier: the clean twin the watermark stage read from stands in.
      image::RenditionSpec spec;
      spec.name = r.name;
      spec.format = r.format;
      c.rendition.path = layout.CleanRendition(id, spec).string();
      c.rendition.watermarked = false;
      c.twin = true;
    }
    out.push_back(std::move(c));
  }
  // Long edge nearest the analysis size; on a tie the larger, then list order.
  auto key = [&](const AnalysisCandidate& c) {
    const int edge = std::max(c.rendition.width, c.rendition.height);
    return std::make_pair(std::abs(edge - config.analysis_long_edge), -edge);
  };
  std::stable_sort(out.begin(), out.end(),
                   [&](const AnalysisCandidate& a, const AnalysisCandidate& b) { return key(a) < key(b); });
  return out;
}

Result<DetectOutput> RunDetectAndCrop(const DetectConfig& config, const Layout& layout,
                                      const std::string& id,
                                      const std::vector<image::Rendition>& renditions,
                                      const std::vector<image::RenditionSpec>& specs) {
  ASSIGN_OR_RETURN(std::shared_ptr<const detect::Analyzer> analyzer, GetAnalyzer(config));

  // The first candidate whose file is there (a clean twin may have been
  // cleaned up); the original when none is.
  const image::Rendition* best = nullptr;
  const std::vector<AnalysisCandidate> candidates =
      AnalysisCandidates(config, layout, id, renditions);
  for (const AnalysisCandidate& c : candidates) {
    std::error_code ec;
    if (c.twin && !fs::exists(c.rendition.path, ec)) continue;
    best = &c.rendition;
    break;
  }
  const fs::path original = layout.Original(id);
  Result<cv::Mat> pixels = cv::Mat();
  if (best != nullptr) {
    fs::path p(best->path);
    if (p.is_relative()) {
      p = layout.data_dir() / p;
      // A relative path is ours to resolve; never let it climb out.
      if (!IsWithin(layout.data_dir(), p)) {
        return InvalidArgumentError("invalid_path", "rendition path leaves the data dir: " +
                                                        best->path);
      }
    }
    pixels = detect::DecodeBgr(p, 0, config.direct_jpeg_decode);
  } else {
    // No clean rendition (e.g. every spec is watermarked and the clean files
    // are gone): the original, shrunk the way the resize stage would.
    pixels = detect::DecodeBgr(original, config.analysis_long_edge);
  }
  if (!pixels.ok()) return pixels.error().WithContext("detect " + id);

  DetectOutput out;
  ASSIGN_OR_RETURN(out.detections, analyzer->Analyze(*pixels));
  image::Detections& d = out.detections;
  auto exif = detect::ReadExifSummary(original);
  if (!exif.ok()) return exif.error().WithContext("detect " + id + " (EXIF)");
  d.exif = std::move(*exif);
  d.checks_ran.push_back("exif");

  for (const image::RenditionSpec& spec : specs) {
    if (!spec.is_crop()) continue;
    const cv::Size target(spec.crop_width, spec.crop_height);
    auto choice = detect::ChooseCrop(*pixels, target, d.faces);
    if (!choice.ok()) return choice.error().WithContext("crop " + spec.name);
    auto enc = detect::EncodeCrop(*pixels, choice->box, target, spec.format, spec.quality);
    if (!enc.ok()) return enc.error().WithContext("crop " + spec.name);
    const fs::path path = layout.FinalRendition(id, spec);
    Status written = WriteFileAtomic(path, std::string_view(enc->bytes), layout.durability());
    if (!written.ok()) {
      return UnavailableError("io_error", "writing " + path.string() + ": " + written.message());
    }
    image::Rendition r;
    r.name = spec.name;
    r.path = path.string();
    r.width = enc->width;
    r.height = enc->height;
    r.bytes = enc->bytes.size();
    r.format = spec.format;
    out.crops.push_back(std::move(r));
    d.crops.push_back({spec.name, choice->box.x, choice->box.y, choice->box.width,
                       choice->box.height, choice->method, choice->faces});
  }
  return out;
}

}  // namespace photo::pipeline
