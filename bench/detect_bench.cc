// Detect checks on a 1280 px image (the "medium" rendition the stage
// analyses), one OpenCV thread: each face detector and each cheap check.
// Run: build/<dir>/bench/photo_bench --benchmark_filter=Detect
#include <benchmark/benchmark.h>

#include <vips/vips8>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <vector>

#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>

#include "photo/detect/analyzer.h"
#include "photo/detect/checks.h"
#include "photo/detect/faces.h"
#include "photo/detect/image_io.h"
#include "photo/image/vips.h"

namespace {

namespace fs = std::filesystem;
using photo::detect::FaceModelKind;

// skimage's astronaut (Debian python3-skimage) enlarged to 1280x1280: a
// portrait with one face, like a typical medium rendition.
const cv::Mat& Image1280() {
  static const cv::Mat img = [] {
    cv::setNumThreads(1);
    auto m = photo::detect::DecodeBgr("/usr/lib/python3/dist-packages/skimage/data/astronaut.png");
    if (!m.ok()) {
      std::fprintf(stderr, "detect_bench: %s\n", m.error().ToString().c_str());
      std::abort();
    }
    cv::Mat big;
    cv::resize(*m, big, cv::Size(1280, 1280), 0, 0, cv::INTER_CUBIC);
    return big;
  }();
  return img;
}

// cand: FaceOptions::candidate_threshold (0 = every grid tile).
void BM_DetectFaces(benchmark::State& state, FaceModelKind kind, int tile, double cand) {
  photo::detect::FaceOptions o;
  o.kind = kind;
  o.tile_px = tile;
  o.candidate_threshold = cand;
  o.min_long_edge = 0;  // these rows measure one pass structure each
  o.mirror = false;
  o.max_passes = 0;
  o.model_dir = photo::detect::DefaultModelDir();
  auto det = photo::detect::FaceDetector::Create(o);
  if (!det.ok()) {
    state.SkipWithError(det.error().ToString().c_str());
    return;
  }
  const cv::Mat& img = Image1280();
  for (auto _ : state) {
    auto faces = (*det)->Detect(img);
    benchmark::DoNotOptimize(faces);
  }
}
BENCHMARK_CAPTURE(BM_DetectFaces, blazeface_back256, FaceModelKind::kBlazeFaceBack256, 0, 0.0)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_DetectFaces, blazeface_back256_grid720, FaceModelKind::kBlazeFaceBack256,
                  720, 0.0)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_DetectFaces, blazeface_back256_grid512, FaceModelKind::kBlazeFaceBack256,
                  512, 0.0)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_DetectFaces, blazeface_back256_cand720, FaceModelKind::kBlazeFaceBack256,
                  720, 0.2)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_DetectFaces, blazeface_back256_cand512, FaceModelKind::kBlazeFaceBack256,
                  512, 0.2)
    ->Unit(benchmark::kMillisecond);
// A crowd: the astronaut shrunk to 150 px, 12 copies on a 1280x960 canvas
// (the whole-image pass misses them, so every window of the grid runs: the
// dearest case of the default).
const cv::Mat& Crowd1280() {
  static const cv::Mat img = [] {
    cv::Mat canvas(960, 1280, CV_8UC3, cv::Scalar(110, 120, 130)), small;
    cv::resize(Image1280(), small, cv::Size(150, 150), 0, 0, cv::INTER_AREA);
    for (int i = 0; i < 12; ++i) {
      small.copyTo(canvas(cv::Rect(60 + (i % 4) * 300, 60 + (i / 4) * 300, 150, 150)));
    }
    return canvas;
  }();
  return img;
}

// A small picture (500x500), which the new default enlarges to 1024 px.
const cv::Mat& Small500() {
  static const cv::Mat img = [] {
    cv::Mat m;
    cv::resize(Image1280(), m, cv::Size(500, 500), 0, 0, cv::INTER_AREA);
    return m;
  }();
  return img;
}

// A real camera photo as the detect stage sees it: the 4224x3168 outdoor
// photo Debian's lomiri-wallpapers package installs (scripts/setup.sh; the
// one photo_stage_cpu uses), shrunk to 1280 px. No faces.
const cv::Mat& Real1280() {
  static const cv::Mat img = [] {
    auto m = photo::detect::DecodeBgr("/usr/share/backgrounds/Dragonfly_by_Bolly.jpg", 1280);
    if (!m.ok()) {
      std::fprintf(stderr, "detect_bench: %s (scripts/setup.sh installs it)\n",
                   m.error().ToString().c_str());
      std::abort();
    }
    return *m;
  }();
  return img;
}

enum class Default { kOld, kV13, kNew };

// The default before issue 13 (no enlarging, no mirrored passes), issue 13's
// first default (every pass mirrored) and the
// current one, on the same inputs in the same run. Counters: faces found and
// BlazeFace inferences per image.
void BM_DetectFacesDefault(benchmark::State& state, Default which, const cv::Mat& (*input)()) {
  photo::detect::FaceOptions o;
  o.model_dir = photo::detect::DefaultModelDir();
  if (which == Default::kOld) {
    o.min_long_edge = 0;
    o.mirror = false;
    o.max_passes = 0;
  } else if (which == Default::kV13) {
    o.mirror_swing = 0;
  }
  auto det = photo::detect::FaceDetector::Create(o);
  if (!det.ok()) {
    state.SkipWithError(det.error().ToString().c_str());
    return;
  }
  const cv::Mat& img = input();
  std::vector<photo::detect::FacePass> passes;
  (void)(*det)->Detect(img, &passes);
  size_t found = 0;
  for (auto _ : state) {
    auto faces = (*det)->Detect(img);
    found = faces.ok() ? faces->size() : 0;
    benchmark::DoNotOptimize(faces);
  }
  state.counters["faces"] = static_cast<double>(found);
  state.counters["passes"] = static_cast<double>(passes.size());
}
#define PHOTO_DEFAULTS_ON(input)                                              \
  BENCHMARK_CAPTURE(BM_DetectFacesDefault, old_##input, Default::kOld, input) \
      ->Unit(benchmark::kMillisecond);                                        \
  BENCHMARK_CAPTURE(BM_DetectFacesDefault, v13_##input, Default::kV13, input) \
      ->Unit(benchmark::kMillisecond);                                        \
  BENCHMARK_CAPTURE(BM_DetectFacesDefault, new_##input, Default::kNew, input) \
      ->Unit(benchmark::kMillisecond)
PHOTO_DEFAULTS_ON(Image1280);
PHOTO_DEFAULTS_ON(Crowd1280);
PHOTO_DEFAULTS_ON(Small500);
PHOTO_DEFAULTS_ON(Real1280);
BENCHMARK_CAPTURE(BM_DetectFaces, blazeface_front128, FaceModelKind::kBlazeFaceFront128, 0, 0.0)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_DetectFaces, haar, FaceModelKind::kHaarDefault, 0, 0.0)
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_DetectFaces, lbp, FaceModelKind::kLbpImproved, 0, 0.0)
    ->Unit(benchmark::kMillisecond);

void BM_DetectPHash(benchmark::State& state) {
  const cv::Mat& img = Image1280();
  for (auto _ : state) benchmark::DoNotOptimize(photo::detect::PerceptualHash(img));
}
BENCHMARK(BM_DetectPHash)->Unit(benchmark::kMillisecond);

void BM_DetectSharpness(benchmark::State& state) {
  const cv::Mat& img = Image1280();
  for (auto _ : state) benchmark::DoNotOptimize(photo::detect::Sharpness(img));
}
BENCHMARK(BM_DetectSharpness)->Unit(benchmark::kMillisecond);

void BM_DetectDominantColors(benchmark::State& state) {
  const cv::Mat& img = Image1280();
  for (auto _ : state) benchmark::DoNotOptimize(photo::detect::DominantColors(img, 5));
}
BENCHMARK(BM_DetectDominantColors)->Unit(benchmark::kMillisecond);

// Encoded 1280 JPEG on disk, for the decode and EXIF benchmarks.
const fs::path& Jpeg1280() {
  static const fs::path p = [] {
    photo::image::InitVips();
    fs::path out = fs::temp_directory_path() / "photo_detect_bench_1280.jpg";
    cv::Mat rgb;
    cv::cvtColor(Image1280(), rgb, cv::COLOR_BGR2RGB);
    vips::VImage v = vips::VImage::new_from_memory(rgb.data, rgb.total() * 3, rgb.cols,
                                                   rgb.rows, 3, VIPS_FORMAT_UCHAR)
                         .copy();
    v.set("exif-ifd0-Make", "Bench");
    v.set("exif-ifd0-Model", "Cam");
    v.jpegsave(out.c_str(), vips::VImage::option()->set("Q", 82));
    return out;
  }();
  return p;
}

void BM_DetectDecode1280(benchmark::State& state) {
  const fs::path& p = Jpeg1280();
  for (auto _ : state) benchmark::DoNotOptimize(photo::detect::DecodeBgr(p));
}
BENCHMARK(BM_DetectDecode1280)->Unit(benchmark::kMillisecond);

void BM_DetectExifSummary(benchmark::State& state) {
  const fs::path& p = Jpeg1280();
  for (auto _ : state) benchmark::DoNotOptimize(photo::detect::ReadExifSummary(p));
}
BENCHMARK(BM_DetectExifSummary)->Unit(benchmark::kMicrosecond);

// Everything the stage runs on the pixels, with the default configuration.
void BM_DetectAnalyzeAll(benchmark::State& state) {
  photo::detect::AnalyzerOptions o;
  o.face.model_dir = photo::detect::DefaultModelDir();
  auto a = photo::detect::Analyzer::Create(o);
  if (!a.ok()) {
    state.SkipWithError(a.error().ToString().c_str());
    return;
  }
  const cv::Mat& img = Image1280();
  for (auto _ : state) benchmark::DoNotOptimize((*a)->Analyze(img));
}
BENCHMARK(BM_DetectAnalyzeAll)->Unit(benchmark::kMillisecond);

}  // namespace
