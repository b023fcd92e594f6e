// Resize stage benchmarks: probe, MakeRenditions (all default renditions to
// encoded bytes), the reference of three separate libvips thumbnail_buffer
// calls, and a plain full decode; BM_ResizeRatios reports the ratios.
//
// Times: process CPU (all threads) and wall. Run a Release build:
//   cmake -S . -B build/resize-rel -G Ninja -DCMAKE_BUILD_TYPE=Release
//   cmake --build build/resize-rel --target photo_bench
//   build/resize-rel/bench/photo_bench --benchmark_filter='Probe|Resize|Thumbnail|Decode'
#include <benchmark/benchmark.h>
#include <sys/mman.h>
#include <turbojpeg.h>
#include <vips/vips8>

#include <algorithm>
#include <chrono>
#include <ctime>
#include <functional>
#include <vector>

#include "bench_images.h"
#include "photo/image/probe.h"
#include "photo/image/resize.h"
#include "photo/image/types.h"
#include "photo/image/vips.h"

namespace photo::bench {
namespace {

using vips::VImage;

void Sizes(benchmark::internal::Benchmark* b) {
  for (int mp : {1, 12, 50}) b->Arg(mp);
  b->Unit(benchmark::kMillisecond)->MeasureProcessCPUTime()->UseRealTime();
}

void SetInfo(benchmark::State& state, int mp) {
  int w = 0, h = 0;
  CameraSize(mp, &w, &h);
  state.SetLabel(std::to_string(w) + "x" + std::to_string(h) + " " +
                 std::to_string(CameraJpeg(mp).size() / 1000) + " kB");
}

// --- the operations ---------------------------------------------------------

// As the resize stage runs it with watermarking on (the default): medium and
// large are the watermark stage's inputs, encoded without the Huffman pass;
// `all_final` encodes all three as published files.
void Resize(const std::string& jpeg, bool all_final = false) {
  auto r = image::MakeRenditions(jpeg, image::DefaultRenditions(), image::Limits{},
                                 {.watermark_inputs_are_intermediate = !all_final});
  if (!r.has_value()) std::abort();
  benchmark::DoNotOptimize(r->renditions.back().bytes.data());
}

// What a straightforward libvips service does: one thumbnail_buffer per
// rendition (each decodes the original again, with its own shrink-on-load),
// auto-rotated and converted to sRGB by thumbnail, saved stripped.
void Thumbnail3x(const std::string& jpeg) {
  for (const image::RenditionSpec& spec : image::DefaultRenditions()) {
    VipsBlob* blob = vips_blob_new(nullptr, jpeg.data(), jpeg.size());
    VImage t = VImage::thumbnail_buffer(
        blob, spec.long_edge, VImage::option()->set("height", spec.long_edge)->set("size", VIPS_SIZE_DOWN));
    void* buf = nullptr;
    size_t len = 0;
    t.write_to_buffer(".jpg", &buf, &len,
                      VImage::option()->set("Q", spec.quality)->set("strip", true));
    vips_area_unref(reinterpret_cast<VipsArea*>(blob));
    benchmark::DoNotOptimize(buf);
    g_free(buf);
  }
}

// libjpeg-turbo full-size decode into a reused buffer: the floor for any
// pipeline that needs every pixel (no scaling, no resampling, no encode).
struct TurboDecoder {
  tjhandle tj = tjInitDecompress();
  std::vector<unsigned char> out;
  ~TurboDecoder() { tjDestroy(tj); }
  void Decode(const std::string& jpeg) {
    int w = 0, h = 0, ss = 0, cs = 0;
    auto* p = reinterpret_cast<unsigned char*>(const_cast<char*>(jpeg.data()));
    tjDecompressHeader3(tj, p, jpeg.size(), &w, &h, &ss, &cs);
    out.resize(static_cast<size_t>(w) * static_cast<size_t>(h) * 3);
    if (tjDecompress2(tj, p, jpeg.size(), out.data(), w, 0, h, TJPF_RGB, 0) != 0) std::abort();
    benchmark::DoNotOptimize(out.data());
  }
};

void VipsDecode(const std::string& jpeg) {
  VipsBlob* blob = vips_blob_new(nullptr, jpeg.data(), jpeg.size());
  VImage img = VImage::jpegload_buffer(blob, VImage::option()->set("access", VIPS_ACCESS_SEQUENTIAL))
                   .copy_memory();
  vips_area_unref(reinterpret_cast<VipsArea*>(blob));
  benchmark::DoNotOptimize(img.get_image());
}

// --- benchmarks ---------------------------------------------------------------

void BM_Probe(benchmark::State& state) {
  image::InitVips();
  int mp = static_cast<int>(state.range(0));
  const std::string& jpeg = CameraJpeg(mp);
  for (auto _ : state) {
    auto r = image::ProbeBuffer(jpeg, image::Limits{});
    if (!r.has_value()) std::abort();
    benchmark::DoNotOptimize(r->width);
  }
  SetInfo(state, mp);
}
BENCHMARK(BM_Probe)->Apply(Sizes);

void BM_Resize(benchmark::State& state) {
  image::InitVips();
  int mp = static_cast<int>(state.range(0));
  const std::string& jpeg = CameraJpeg(mp);
  for (auto _ : state) Resize(jpeg);
  SetInfo(state, mp);
}
BENCHMARK(BM_Resize)->Apply(Sizes);

void BM_ResizeAllFinal(benchmark::State& state) {
  image::InitVips();
  int mp = static_cast<int>(state.range(0));
  const std::string& jpeg = CameraJpeg(mp);
  for (auto _ : state) Resize(jpeg, /*all_final=*/true);
  SetInfo(state, mp);
}
BENCHMARK(BM_ResizeAllFinal)->Apply(Sizes);

void BM_Thumbnail3x(benchmark::State& state) {
  image::InitVips();
  int mp = static_cast<int>(state.range(0));
  const std::string& jpeg = CameraJpeg(mp);
  for (auto _ : state) Thumbnail3x(jpeg);
  SetInfo(state, mp);
}
BENCHMARK(BM_Thumbnail3x)->Apply(Sizes);

void BM_FullDecodeTurbo(benchmark::State& state) {
  int mp = static_cast<int>(state.range(0));
  const std::string& jpeg = CameraJpeg(mp);
  TurboDecoder d;
  d.Decode(jpeg);  // first-touch the reused buffer outside the timing
  for (auto _ : state) d.Decode(jpeg);
  SetInfo(state, mp);
}
BENCHMARK(BM_FullDecodeTurbo)->Apply(Sizes);

void BM_FullDecodeVips(benchmark::State& state) {
  image::InitVips();
  int mp = static_cast<int>(state.range(0));
  const std::string& jpeg = CameraJpeg(mp);
  for (auto _ : state) VipsDecode(jpeg);
  SetInfo(state, mp);
}
BENCHMARK(BM_FullDecodeVips)->Apply(Sizes);

// The ratios, measured interleaved (each iteration runs every variant once,
// so load from other processes hits them alike); medians over iterations.
double WallMs() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
void BM_ResizeRatios(benchmark::State& state) {
  image::InitVips();
  int mp = static_cast<int>(state.range(0));
  const std::string& jpeg = CameraJpeg(mp);
  TurboDecoder d;
  d.Decode(jpeg);  // warm the reused buffer
  std::vector<double> r_cpu, r_wall, f_cpu, f_wall, t_cpu, t_wall, d_cpu, d_wall, v_cpu, v_wall;
  auto time = [](const std::function<void()>& f, std::vector<double>& cpu,
                 std::vector<double>& wall) {
    double c = CpuMs(), w = WallMs();
    f();
    cpu.push_back(CpuMs() - c);
    wall.push_back(WallMs() - w);
  };
  for (auto _ : state) {
    time([&] { Resize(jpeg); }, r_cpu, r_wall);
    time([&] { Resize(jpeg, /*all_final=*/true); }, f_cpu, f_wall);
    time([&] { Thumbnail3x(jpeg); }, t_cpu, t_wall);
    time([&] { d.Decode(jpeg); }, d_cpu, d_wall);
    time([&] { VipsDecode(jpeg); }, v_cpu, v_wall);
  }
  state.counters["resize_cpu_ms"] = Median(r_cpu);
  state.counters["thumb3_cpu_ms"] = Median(t_cpu);
  state.counters["tjdecode_cpu_ms"] = Median(d_cpu);
  state.counters["vipsdecode_cpu_ms"] = Median(v_cpu);
  state.counters["resize/thumb3_cpu"] = Median(r_cpu) / Median(t_cpu);
  state.counters["resize/thumb3_wall"] = Median(r_wall) / Median(t_wall);
  state.counters["resize/tjdecode_cpu"] = Median(r_cpu) / Median(d_cpu);
  state.counters["resize/tjdecode_wall"] = Median(r_wall) / Median(d_wall);
  state.counters["resize/vipsdecode_cpu"] = Median(r_cpu) / Median(v_cpu);
  // Every rendition encoded as a published file (watermarking disabled).
  state.counters["allfinal_cpu_ms"] = Median(f_cpu);
  state.counters["allfinal/tjdecode_cpu"] = Median(f_cpu) / Median(d_cpu);
  SetInfo(state, mp);
}
BENCHMARK(BM_ResizeRatios)
    ->Arg(1)
    ->Arg(12)
    ->Arg(50)
    ->Iterations(7)
    ->Unit(benchmark::kMillisecond)
    ->MeasureProcessCPUTime()
    ->UseRealTime();

}  // namespace
}  // namespace photo::bench
