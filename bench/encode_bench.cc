// Encode per output format, on the pixels of each default rendition size of
// the 12 MP camera photo (320, 1280, 2560 px long edge): what one rendition
// costs to write in each format, final (published) and intermediate effort.
// Run: build/<dir>/bench/photo_bench --benchmark_filter=Encode
#include <benchmark/benchmark.h>

#include <vips/vips8>

#include <map>
#include <string>
#include <utility>

#include "bench_images.h"
#include "photo/image/encode.h"
#include "photo/image/types.h"
#include "photo/image/vips.h"

namespace photo::bench {
namespace {

using image::EncodeEffort;
using image::OutputFormat;
using vips::VImage;

// The 12 MP photo shrunk to `edge`, decoded into memory once per size.
const VImage& Pixels(int edge) {
  static std::map<int, VImage> cache;
  auto it = cache.find(edge);
  if (it == cache.end()) {
    image::InitVips();
    const std::string& jpeg = CameraJpeg(12);
    VImage img = VImage::thumbnail_buffer(vips_blob_new(nullptr, jpeg.data(), jpeg.size()), edge)
                     .copy_memory();
    it = cache.emplace(edge, img).first;
  }
  return it->second;
}

// Runs `encode` on the pixels of each size and labels the output size.
template <typename Encode>
void RunEncode(benchmark::State& state, Encode encode) {
  const VImage& img = Pixels(static_cast<int>(state.range(0)));
  std::size_t bytes = 0;
  for (auto _ : state) {
    std::string out = encode(img);
    bytes = out.size();
    benchmark::DoNotOptimize(out.data());
  }
  state.SetLabel(std::to_string(img.width()) + "x" + std::to_string(img.height()) + " -> " +
                 std::to_string(bytes / 1000) + " kB");
}

void BM_Encode(benchmark::State& state, OutputFormat format, EncodeEffort effort) {
  RunEncode(state, [&](const VImage& img) { return image::EncodeVips(img, format, 82, effort); });
}

void Edges(benchmark::internal::Benchmark* b) {
  for (int edge : {320, 1280, 2560}) b->Arg(edge);
  b->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();
}

// The intermediate JPEG the resize stage writes for the watermark stage: the
// pixels in a plain buffer, straight through libjpeg-turbo.
void BM_EncodeJpegTurbo(benchmark::State& state) {
  RunEncode(state, [](const VImage& img) {
    return image::EncodeJpegTurbo(static_cast<const unsigned char*>(img.data()), img.width(),
                                  img.height(), 82);
  });
}

BENCHMARK_CAPTURE(BM_Encode, jpeg_final, OutputFormat::kJpeg, EncodeEffort::kFinal)->Apply(Edges);
BENCHMARK_CAPTURE(BM_Encode, jpeg_vips_intermediate, OutputFormat::kJpeg,
                  EncodeEffort::kIntermediate)
    ->Apply(Edges);
BENCHMARK(BM_EncodeJpegTurbo)->Apply(Edges);
BENCHMARK_CAPTURE(BM_Encode, webp_final, OutputFormat::kWebp, EncodeEffort::kFinal)->Apply(Edges);
BENCHMARK_CAPTURE(BM_Encode, avif_final, OutputFormat::kAvif, EncodeEffort::kFinal)->Apply(Edges);
BENCHMARK_CAPTURE(BM_Encode, png_final, OutputFormat::kPng, EncodeEffort::kFinal)->Apply(Edges);

}  // namespace
}  // namespace photo::bench
