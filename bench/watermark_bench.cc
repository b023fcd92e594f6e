// Watermark benchmarks: the watermark operation on decoded 1280 and 2560 px
// renditions (logo, text, both; grid and tiled; warm and cold caches), the
// naive full-frame composite it replaces, and the whole stage step on the
// 2560 JPEG (decode + watermark + encode) against a plain decode + encode
// baseline measured in the same run.
//
// Inputs are real renditions: image::MakeRenditions of the synthetic 12 MP
// camera JPEG (bench_images.h), so the JPEG sizes and entropy are realistic.
//
// Times: process CPU (all threads) and wall. Run a Release build:
//   cmake -S . -B build/wm-rel -G Ninja -DCMAKE_BUILD_TYPE=Release
//   cmake --build build/wm-rel --target photo_bench
//   build/wm-rel/bench/photo_bench --benchmark_filter='Watermark|DecodeEncode'
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdlib>
#include <ctime>
#include <map>
#include <string>
#include <vector>
#include <vips/vips8>

#include "bench_images.h"
#include "photo/image/resize.h"
#include "photo/image/types.h"
#include "photo/image/vips.h"
#include "photo/watermark/watermark.h"

namespace photo::bench {
namespace {

using vips::VImage;
namespace wm = photo::watermark;

enum Mark { kLogo = 0, kText = 1, kBoth = 2 };
const char* const kMarkNames[] = {"logo", "text", "logo+text"};
constexpr const char* kTextValue = "\u00a9 2024 Example Photo Agency";

// The clean JPEG rendition with long edge 1280 or 2560, as the resize stage
// writes it (Q82 / Q85), made once.
const std::string& CleanJpeg(int long_edge) {
  static std::map<int, std::string> cache;
  auto it = cache.find(long_edge);
  if (it != cache.end()) return it->second;
  image::InitVips();
  std::vector<image::RenditionSpec> specs = {
      {"r", long_edge, image::OutputFormat::kJpeg, long_edge > 1280 ? 85 : 82, true}};
  auto set = image::MakeRenditions(CameraJpeg(12), specs, image::Limits{});
  if (!set.has_value()) std::abort();
  return cache.emplace(long_edge, set->renditions[0].bytes).first->second;
}

// The same rendition decoded into memory.
const VImage& Decoded(int long_edge) {
  static std::map<int, VImage> cache;
  auto it = cache.find(long_edge);
  if (it != cache.end()) return it->second;
  const std::string& jpeg = CleanJpeg(long_edge);
  VImage im = VImage::new_from_buffer(jpeg.data(), jpeg.size(), "").copy_memory();
  return cache.emplace(long_edge, im).first->second;
}

wm::Options OptionsFor(int mark, wm::Position position) {
  wm::Options o;
  if (mark != kText) o.logo = wm::DefaultLogoPng();
  if (mark != kLogo) o.text = kTextValue;
  o.position = position;
  return o;
}

void Label(benchmark::State& state, int long_edge, const char* what) {
  const VImage& im = Decoded(long_edge);
  state.SetLabel(std::to_string(im.width()) + "x" + std::to_string(im.height()) + " " + what);
}

void Materialise(const VImage& im) {
  VImage m = im.copy_memory();
  benchmark::DoNotOptimize(m.get_image());
}

// Args: long edge, mark kind.
void GridArgs(benchmark::internal::Benchmark* b) {
  for (int edge : {1280, 2560}) {
    for (int mark : {kLogo, kText, kBoth}) b->Args({edge, mark});
  }
  b->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();
}

// The operation the stage runs, caches warm (the steady state of a worker).
void BM_WatermarkGrid(benchmark::State& state) {
  const int edge = static_cast<int>(state.range(0));
  const int mark = static_cast<int>(state.range(1));
  const VImage& in = Decoded(edge);
  const wm::Options o = OptionsFor(mark, wm::Position::kBottomRight);
  if (!wm::Apply(in, o).ok()) std::abort();  // warm the caches
  for (auto _ : state) {
    auto out = wm::Apply(in, o);
    Materialise(*out);
  }
  Label(state, edge, kMarkNames[mark]);
}
BENCHMARK(BM_WatermarkGrid)->Apply(GridArgs);

// Same with every cache dropped per iteration: logo decode + scale and text
// render included (what the first image of each rendition width pays).
void BM_WatermarkGridCold(benchmark::State& state) {
  const int edge = static_cast<int>(state.range(0));
  const int mark = static_cast<int>(state.range(1));
  const VImage& in = Decoded(edge);
  const wm::Options o = OptionsFor(mark, wm::Position::kBottomRight);
  for (auto _ : state) {
    wm::ClearCaches();
    auto out = wm::Apply(in, o);
    Materialise(*out);
  }
  Label(state, edge, kMarkNames[mark]);
}
BENCHMARK(BM_WatermarkGridCold)->Apply(GridArgs);

void BM_WatermarkTiled(benchmark::State& state) {
  const int edge = static_cast<int>(state.range(0));
  const VImage& in = Decoded(edge);
  const wm::Options o = OptionsFor(kLogo, wm::Position::kTiled);
  if (!wm::Apply(in, o).ok()) std::abort();
  for (auto _ : state) {
    auto out = wm::Apply(in, o);
    Materialise(*out);
  }
  Label(state, edge, "logo tiled");
}
BENCHMARK(BM_WatermarkTiled)
    ->Arg(1280)
    ->Arg(2560)
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

// What the patch blend replaces: composite2 of the (pre-scaled) logo over the
// whole frame, which blends every pixel in float.
void BM_WatermarkNaiveFullFrame(benchmark::State& state) {
  const int edge = static_cast<int>(state.range(0));
  const VImage& in = Decoded(edge);
  const wm::Options o = OptionsFor(kLogo, wm::Position::kBottomRight);
  const image::Box box = (*wm::Placement(in.width(), in.height(), o))[0];
  const std::string_view png = wm::DefaultLogoPng();
  VImage logo = VImage::new_from_buffer(png.data(), png.size(), "")
                    .resize(static_cast<double>(box.width) / 773.0)
                    .copy_memory();
  for (auto _ : state) {
    VImage layer = logo.linear({1, 1, 1, o.opacity}, {0, 0, 0, 0});
    VImage out = in.composite2(layer, VIPS_BLEND_MODE_OVER,
                               VImage::option()->set("x", box.x)->set("y", box.y))
                     .extract_band(0, VImage::option()->set("n", 3))
                     .cast(VIPS_FORMAT_UCHAR);
    Materialise(out);
  }
  Label(state, edge, "logo, full-frame composite2");
}
BENCHMARK(BM_WatermarkNaiveFullFrame)
    ->Arg(1280)
    ->Arg(2560)
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

// The stage's pixel work on the 2560 JPEG: decode + watermark + encode (Q85),
// warm caches. Arg: mark kind; -1 = the baseline, decode + encode with the
// same encoder settings and no watermark (opacity 0 takes that path).
void BM_WatermarkEncoded2560(benchmark::State& state) {
  const int mark = static_cast<int>(state.range(0));
  const std::string& jpeg = CleanJpeg(2560);
  wm::Options o = OptionsFor(mark < 0 ? kLogo : mark, wm::Position::kBottomRight);
  if (mark < 0) o.opacity = 0;
  std::size_t bytes = 0;
  for (auto _ : state) {
    auto out = wm::ApplyToEncoded(jpeg, image::OutputFormat::kJpeg, 85, o);
    if (!out.ok()) std::abort();
    bytes = out->bytes.size();
  }
  state.SetLabel(std::string(mark < 0 ? "baseline decode+encode" : kMarkNames[mark]) + ", in " +
                 std::to_string(jpeg.size() / 1000) + " kB, out " + std::to_string(bytes / 1000) +
                 " kB");
}
BENCHMARK(BM_WatermarkEncoded2560)
    ->Arg(-1)
    ->Arg(kLogo)
    ->Arg(kText)
    ->Arg(kBoth)
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

// On a shared, loaded machine separate benchmarks drift apart by more than
// the watermark costs. This one alternates the baseline (decode + encode) and
// decode + logo+text watermark + encode inside every iteration (order
// swapped each time) and reports the medians of each and of the per-iteration
// difference, in process CPU ms.
void BM_WatermarkEncoded2560Interleaved(benchmark::State& state) {
  const std::string& jpeg = CleanJpeg(2560);
  wm::Options marked = OptionsFor(kBoth, wm::Position::kBottomRight);
  wm::Options plain = marked;
  plain.opacity = 0;
  if (!wm::ApplyToEncoded(jpeg, image::OutputFormat::kJpeg, 85, marked).ok()) std::abort();
  std::vector<double> base, with, diff;
  bool swap = false;
  for (auto _ : state) {
    double t[2] = {0, 0};
    for (int k = 0; k < 2; ++k) {
      const bool is_marked = (k == 1) != swap;
      const double c0 = CpuMs();
      auto out =
          wm::ApplyToEncoded(jpeg, image::OutputFormat::kJpeg, 85, is_marked ? marked : plain);
      if (!out.ok()) std::abort();
      t[is_marked ? 1 : 0] = CpuMs() - c0;
    }
    swap = !swap;
    base.push_back(t[0]);
    with.push_back(t[1]);
    diff.push_back(t[1] - t[0]);
  }
  state.counters["base_cpu_ms"] = Median(base);
  state.counters["marked_cpu_ms"] = Median(with);
  state.counters["added_cpu_ms"] = Median(diff);
  state.SetLabel("2560 JPEG: decode+encode vs decode+logo+text+encode, medians");
}
BENCHMARK(BM_WatermarkEncoded2560Interleaved)
    ->Iterations(30)
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

}  // namespace
}  // namespace photo::bench
