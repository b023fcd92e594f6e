// CPU per image per stage, before and after each change of issue #14, in one
// run, for a real camera photo and a generated one. Each stage runs as a
// worker runs it (pipeline::RunResize / RunWatermark / RunDetect over files
// in a scratch data directory, fsyncs included; no broker, no status store).
//
//   photo_stage_cpu [--rounds N] [--real PATH] [--generated-mp N]
//
// Variants, each a column ("before" first):
//   before  the pipeline before issue #14: the watermark stage decodes each
//           clean JPEG rendition, blends the mark and encodes it again;
//   dct     the watermark stage marks JPEG renditions in the DCT domain
//           (watermark::ApplyToJpegBlocks), standard Huffman tables;
//   dct+huffman  the same with Huffman tables optimised per file;
//   dct+rows  dct, and the resize stage writes a restart marker after every
//           MCU row of the clean JPEGs, so the watermark stage re-encodes only
//           the rows under the mark and copies the others' bytes;
//   +2x-area  dct+rows, and the resize stage's residual resize between 1.6x
//           and 2x goes bilinear to twice the target, then through the exact
//           2x area filter, instead of the fractional area filter
//           (image::MakeOptions::upsampled_area; the default).
// Every round runs every variant once on every photo, in a rotating order, so
// load from other processes hits all of them alike; figures are medians of
// process CPU time (all threads) per image.
//
// The real photo defaults to a file Debian's lomiri-wallpapers-16.04 package
// installs (scripts/setup.sh installs it): a 4224x3168 (13.4 MP) outdoor
// camera photo, 4:2:0, 1.5 MB, stored baseline for the run (see below).
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "bench_images.h"
#include "photo/core/files.h"
#include "photo/image/jpeg_region.h"
#include "photo/image/probe.h"
#include "photo/image/vips.h"
#include "photo/pipeline/detect_stage.h"
#include "photo/pipeline/resize_stage.h"
#include "photo/pipeline/watermark_stage.h"

namespace {

namespace fs = std::filesystem;
using photo::bench::CpuMs;
using photo::bench::Median;
using photo::pipeline::Layout;

constexpr const char* kDefaultReal = "/usr/share/backgrounds/Dragonfly_by_Bolly.jpg";

struct Variant {
  std::string name;
  photo::watermark::JpegMarking marking;
  bool row_restarts;    // resize writes a restart marker per MCU row into clean JPEGs
  bool upsampled_area;  // resize's 1.6-2x residual: bilinear to 2x, then 2x area
};

struct Photo {
  std::string label;
  std::string bytes;
};

template <typename T>
T Must(photo::Result<T> r, const char* what) {
  if (!r.ok()) {
    std::fprintf(stderr, "stage_cpu: %s: %s\n", what, r.error().ToString().c_str());
    std::exit(1);
  }
  return std::move(r).value();
}

}  // namespace

int main(int argc, char** argv) {
  int rounds = 7;
  int generated_mp = 12;
  std::string real = kDefaultReal;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--rounds" && i + 1 < argc) {
      rounds = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--real" && i + 1 < argc) {
      real = argv[++i];
    } else if (a == "--generated-mp" && i + 1 < argc) {
      generated_mp = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: %s [--rounds N] [--real PATH] [--generated-mp N]\n", argv[0]);
      return 2;
    }
  }
  photo::image::InitVips();

  std::vector<Photo> photos;
  {
    auto bytes = photo::ReadFile(real);
    if (!bytes.ok()) {
      std::fprintf(stderr, "stage_cpu: %s: %s (scripts/setup.sh installs it)\n", real.c_str(),
                   bytes.error().ToString().c_str());
      return 1;
    }
    // Cameras write baseline JPEGs; the package stores this one progressive
    // (several scans, ~3x the decode). Re-stored losslessly (the same DCT
    // coefficients, like `jpegtran`) as baseline, as tools/bench-real.sh does.
    auto baseline = photo::image::EditJpegRegion(
        *bytes, {}, [](const photo::image::RgbRegion&) { return photo::Status::Ok(); });
    photos.push_back({"real: " + fs::path(real).filename().string() + " (baseline)",
                      Must(std::move(baseline), "storing the real photo baseline")});
  }
  photos.push_back({"generated " + std::to_string(generated_mp) + " MP",
                    photo::bench::CameraJpeg(generated_mp)});

  using photo::watermark::JpegMarking;
  const std::vector<Variant> variants = {
      {"before", JpegMarking::kPixels, false, false},
      {"dct", JpegMarking::kBlocks, false, false},
      {"dct+huffman", JpegMarking::kBlocksOptimized, false, false},
      {"dct+rows", JpegMarking::kBlocks, true, false},
      {"+2x-area", JpegMarking::kBlocks, true, true}};

  char tmpl[] = "/tmp/photo-stage-cpu-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  const fs::path data(tmpl);
  const Layout layout(data);

  photo::pipeline::ResizeConfig resize;
  photo::pipeline::DetectConfig detect;
  if (photo::Status s = photo::pipeline::PrepareDetect(detect); !s.ok()) {
    std::fprintf(stderr, "stage_cpu: %s (scripts/setup.sh fetches the face model)\n",
                 s.ToString().c_str());
    return 1;
  }

  // cpu[photo][variant][stage] -> samples
  std::map<size_t, std::map<std::string, std::map<std::string, std::vector<double>>>> cpu;
  std::map<size_t, std::map<std::string, std::uint64_t>> bytes_out;
  for (size_t p = 0; p < photos.size(); ++p) {
    const std::string id = "0123456789abcdef0123456789abcd" + std::to_string(10 + p);
    const fs::path original = layout.Original(id);
    fs::create_directories(original.parent_path());
    if (!photo::WriteFileAtomic(original, photos[p].bytes).ok()) return 1;
    for (int round = -1; round < rounds; ++round) {  // round -1 warms caches, not counted
      for (size_t k = 0; k < variants.size(); ++k) {
        const Variant& v =
            variants[(k + static_cast<size_t>(std::max(0, round))) % variants.size()];
        photo::pipeline::WatermarkConfig wm;
        wm.jpeg_marking = v.marking;
        resize.jpeg_row_restarts = v.row_restarts;
        resize.upsampled_area = v.upsampled_area;
        double t0 = CpuMs();
        auto out = Must(photo::pipeline::RunResize(resize, layout, id), "resize");
        double t1 = CpuMs();
        auto finals =
            Must(photo::pipeline::RunWatermark(wm, layout, id, resize.renditions, out.renditions),
                 "watermark");
        double t2 = CpuMs();
        Must(photo::pipeline::RunDetect(detect, layout, id, out.renditions), "detect");
        double t3 = CpuMs();
        if (round < 0) continue;
        auto& c = cpu[p][v.name];
        c["resize"].push_back(t1 - t0);
        c["watermark"].push_back(t2 - t1);
        c["detect"].push_back(t3 - t2);
        c["total"].push_back(t3 - t0);
        std::uint64_t total = 0;
        for (const auto& r : finals) total += r.bytes;
        bytes_out[p][v.name] = total;
      }
    }
  }
  fs::remove_all(data);

  for (size_t p = 0; p < photos.size(); ++p) {
    auto info = photo::image::ProbeBuffer(photos[p].bytes, photo::image::Limits{});
    std::printf("\n%s, %dx%d, %zu kB; %d rounds, median CPU ms per image (all threads)\n",
                photos[p].label.c_str(), info.ok() ? info->width : 0, info.ok() ? info->height : 0,
                photos[p].bytes.size() / 1000, rounds);
    std::printf("| stage |");
    for (const Variant& v : variants) std::printf(" %s |", v.name.c_str());
    std::printf("\n|---|");
    for (size_t k = 0; k < variants.size(); ++k) std::printf("---|");
    std::printf("\n");
    for (const char* s : {"resize", "watermark", "detect", "total"}) {
      std::printf("| %s |", s);
      for (const Variant& v : variants) std::printf(" %.1f |", Median(cpu[p][v.name][s]));
      std::printf("\n");
    }
    std::printf("| published renditions, kB |");
    for (const Variant& v : variants) {
      std::printf(" %.0f |", static_cast<double>(bytes_out[p][v.name]) / 1000);
    }
    std::printf("\n");
  }
  return 0;
}
