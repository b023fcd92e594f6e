// photo-face-eval: how well each face detector counts faces on a labelled
// folder (the developer corpus's manifest.json: "file", "faces",
// "faces_tolerance"; entries with null faces are skipped).
//
// Each image is decoded the way the pipeline analyses it: the clean "medium"
// rendition, i.e. shrunk (never enlarged) to a 1280 px long edge, EXIF
// orientation applied. Per image, `matched` is
//  - with box labels ("face_boxes", stored pixels): found boxes paired
//    one-to-one with labelled boxes at IoU >= 0.4 (greedy, best IoU first);
//  - without: min(found, truth);
// and recall = sum(matched) / sum(truth), precision = sum(matched) / sum(found),
// so a false positive on a face-free picture costs precision.
//
// Usage: photo-face-eval --images DIR [--manifest FILE] [--model-dir DIR]
//          [--size 1280] [--threads 1] [--verbose] [--sharpness] [DETECTOR...]
// A DETECTOR is "old" (the default before issue 13), "v13" (issue 13's first
// default), "new" (the current default) or
// "<model>[:th=<score>][:tile=<px>][:cand=<score>][:up=<px>][:mirror=0|1][:swing=<score>]
//  [:pack=0|1][:max=<n>]"
// (cand=0: every grid tile; > 0: tiles only around weaker whole-image
// candidates; up: enlarge inputs smaller than this; mirror: add mirrored
// passes; swing: mirrored passes only where a plain detection came this
// close to the threshold, 0 = everywhere; pack: windows placed to hold
// several candidates; max: inferences per image, 0 = unbounded), model one
// of blazeface-front-128, blazeface-back-256, haar, lbp.
// Without DETECTOR arguments: "old v13 new". --passes adds, per detector, the
// inferences and CPU time of each kind of pass and the faces only that kind
// found, and per image the passes run.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <opencv2/core/utility.hpp>
#include <opencv2/imgproc.hpp>

#include "photo/detect/analyzer.h"
#include "photo/detect/checks.h"
#include "photo/detect/faces.h"
#include "photo/detect/image_io.h"

namespace {

namespace fs = std::filesystem;
using photo::detect::FaceDetector;
using photo::detect::FaceOptions;

struct Sample {
  std::string file;
  int faces = 0;
  int tolerance = 0;
  std::vector<cv::Rect> boxes;  // labelled faces in analysed pixels; empty = count only
  cv::Mat pixels;
};

constexpr double kMatchIoU = 0.4;

double RectIoU(const cv::Rect& a, const cv::Rect& b) {
  const double inter = (a & b).area();
  const double uni = a.area() + b.area() - inter;
  return uni > 0 ? inter / uni : 0;
}

// Found boxes paired one-to-one with labels at IoU >= kMatchIoU, best first.
int MatchBoxes(const std::vector<cv::Rect>& truth, const std::vector<photo::image::Box>& found) {
  struct Pair {
    double iou;
    size_t t, f;
  };
  std::vector<Pair> pairs;
  for (size_t t = 0; t < truth.size(); ++t) {
    for (size_t f = 0; f < found.size(); ++f) {
      const auto& b = found[f];
      const double iou = RectIoU(truth[t], cv::Rect(b.x, b.y, b.width, b.height));
      if (iou >= kMatchIoU) pairs.push_back({iou, t, f});
    }
  }
  std::sort(pairs.begin(), pairs.end(), [](const Pair& a, const Pair& b) { return a.iou > b.iou; });
  std::vector<bool> t_used(truth.size()), f_used(found.size());
  int matched = 0;
  for (const Pair& p : pairs) {
    if (t_used[p.t] || f_used[p.f]) continue;
    t_used[p.t] = f_used[p.f] = true;
    ++matched;
  }
  return matched;
}

// CPU time of this thread: with one OpenCV thread it is the detector's cost,
// unaffected by whatever else the machine is doing (wall time is not).
double ThreadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// Which kind of BlazeFace pass costs what and finds which faces.
struct PassTally {
  static constexpr const char* kNames[4] = {"whole", "windows", "whole mirrored",
                                            "windows mirrored"};
  int runs[4] = {};
  double cpu[4] = {};
  int sole[4] = {};  // final faces that only this kind of pass found
  std::string per_image;

  static int Kind(const photo::detect::FacePass& p) {
    return (p.whole ? 0 : 1) + (p.mirrored ? 2 : 0);
  }

  void Add(const std::string& file, cv::Size size,
           const std::vector<photo::detect::FacePass>& passes,
           const std::vector<photo::image::Box>& faces, double threshold) {
    int n[4] = {};
    double ms[4] = {};
    for (const auto& p : passes) {
      const int k = Kind(p);
      ++runs[k];
      ++n[k];
      cpu[k] += p.cpu_ms;
      ms[k] += p.cpu_ms;
    }
    std::string lonely;
    for (const auto& f : faces) {
      bool by[4] = {};
      double plain_best = 0;  // best score at this face in a pass that is not mirrored
      for (const auto& p : passes) {
        for (const auto& b : p.boxes) {
          if (photo::detect::IoU(b, f) < 0.3) continue;
          if (double{b.score} >= threshold) by[Kind(p)] = true;
          if (!p.mirrored) plain_best = std::max(plain_best, double{b.score});
        }
      }
      const int kinds = by[0] + by[1] + by[2] + by[3];
      for (int k = 0; k < 4; ++k) {
        if (kinds != 1 || !by[k]) continue;
        ++sole[k];
        char buf[96];
        std::snprintf(buf, sizeof buf, " [%d px face only in %s; best unmirrored score %.2f]",
                      f.width, kNames[k], plain_best);
        lonely += buf;
      }
    }
    char line[256];
    std::snprintf(line, sizeof line, "    %-40s %4dx%-4d passes %d+%d+%d+%d  %6.1f ms\n",
                  file.c_str(), size.width, size.height, n[0], n[1], n[2], n[3],
                  ms[0] + ms[1] + ms[2] + ms[3]);
    per_image += line;
    if (!lonely.empty()) per_image += "       " + lonely + "\n";
  }

  void Print(size_t images) const {
    std::printf("  passes per kind (per image: inferences, CPU ms; faces only that kind found):\n");
    for (int k = 0; k < 4; ++k) {
      std::printf("    %-17s %5.2f  %6.1f ms  %d\n", kNames[k],
                  runs[k] / static_cast<double>(images), cpu[k] / static_cast<double>(images),
                  sole[k]);
    }
    std::printf("%s", per_image.c_str());
  }
};

bool ParseSpec(std::string spec, const fs::path& model_dir, FaceOptions& o) {
  o = FaceOptions{};
  o.model_dir = model_dir;
  if (spec == "new") return true;
  // The default until issue 13: no enlarging, no mirrored passes.
  if (spec == "old") spec = "blazeface-back-256:th=0.75:tile=512:cand=0.2:up=0:mirror=0:max=0";
  // Issue 13's first default: every pass mirrored.
  if (spec == "v13")
    spec = "blazeface-back-256:th=0.75:tile=512:cand=0.2:up=1024:mirror=1:max=10:swing=0";
  size_t pos = spec.find(':');
  auto kind = photo::detect::ParseFaceModel(spec.substr(0, pos));
  if (!kind) {
    std::cerr << kind.error().message() << "\n";
    return false;
  }
  o.kind = *kind;
  while (pos != std::string::npos) {
    const size_t next = spec.find(':', pos + 1);
    const std::string kv = spec.substr(pos + 1, next == std::string::npos ? next : next - pos - 1);
    if (kv.rfind("th=", 0) == 0) {
      o.score_threshold = std::atof(kv.c_str() + 3);
    } else if (kv.rfind("tile=", 0) == 0) {
      o.tile_px = std::atoi(kv.c_str() + 5);
    } else if (kv.rfind("cand=", 0) == 0) {
      o.candidate_threshold = std::atof(kv.c_str() + 5);
    } else if (kv.rfind("up=", 0) == 0) {
      o.min_long_edge = std::atoi(kv.c_str() + 3);
    } else if (kv.rfind("max=", 0) == 0) {
      o.max_passes = std::atoi(kv.c_str() + 4);
    } else if (kv.rfind("swing=", 0) == 0) {
      o.mirror_swing = std::atof(kv.c_str() + 6);
    } else if (kv.rfind("pack=", 0) == 0) {
      o.pack_windows = std::atoi(kv.c_str() + 5) != 0;
    } else if (kv.rfind("mirror=", 0) == 0) {
      o.mirror = std::atoi(kv.c_str() + 7) != 0;
    } else {
      std::cerr << "bad detector option '" << kv << "'\n";
      return false;
    }
    pos = next;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  fs::path images, manifest, model_dir = photo::detect::DefaultModelDir();
  int size = 1280, threads = 1;
  bool verbose = false, sharpness = false, show_passes = false;
  std::vector<std::string> specs;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--images") images = next();
    else if (a == "--manifest") manifest = next();
    else if (a == "--model-dir") model_dir = next();
    else if (a == "--size") size = std::atoi(next().c_str());
    else if (a == "--threads") threads = std::atoi(next().c_str());
    else if (a == "--verbose") verbose = true;
    else if (a == "--sharpness") sharpness = true;
    else if (a == "--passes")
      show_passes = true;
    else if (a == "--help" || a == "-h") {
      std::cout << "usage: photo-face-eval --images DIR [--manifest FILE] [--model-dir DIR] "
                   "[--size 1280] [--threads 1] [--verbose] [--sharpness] [--passes] "
                   "[old|v13|new|MODEL[:th=S][:tile=PX][:cand=S][:up=PX][:mirror=0|1][:swing=S]"
                   "[:pack=0|1][:max=N]...]\n";
      return 0;
    } else specs.push_back(a);
  }
  if (images.empty()) {
    std::cerr << "--images DIR is required (see --help)\n";
    return 2;
  }
  if (manifest.empty()) manifest = images / "manifest.json";
  if (specs.empty()) specs = {"old", "v13", "new"};
  cv::setNumThreads(threads);

  nlohmann::json m;
  try {
    std::ifstream(manifest) >> m;
  } catch (const std::exception& e) {
    std::cerr << "cannot read " << manifest << ": " << e.what() << "\n";
    return 1;
  }
  std::vector<Sample> samples;
  for (const auto& e : m) {
    if (!e.contains("faces") || e["faces"].is_null()) continue;
    Sample s;
    s.file = e["file"].get<std::string>();
    s.faces = e["faces"].get<int>();
    s.tolerance = e.value("faces_tolerance", 0);
    auto px = photo::detect::DecodeBgr(images / s.file, size);
    if (!px) {
      std::cerr << "skip " << s.file << ": " << px.error().ToString() << "\n";
      continue;
    }
    s.pixels = std::move(*px);
    // Labels are in stored pixels; with an EXIF rotation they would need
    // turning too, so such files are counted only.
    const bool upright = !e.contains("exif_orientation") || e["exif_orientation"].is_null() ||
                         e["exif_orientation"].get<int>() == 1;
    if (e.contains("face_boxes") && e["face_boxes"].is_array() && upright) {
      const double f = static_cast<double>(s.pixels.cols) / e["width"].get<double>();
      for (const auto& b : e["face_boxes"]) {
        s.boxes.emplace_back(static_cast<int>(std::lround(b[0].get<double>() * f)),
                             static_cast<int>(std::lround(b[1].get<double>() * f)),
                             static_cast<int>(std::lround(b[2].get<double>() * f)),
                             static_cast<int>(std::lround(b[3].get<double>() * f)));
      }
    }
    samples.push_back(std::move(s));
  }
  std::printf("%zu labelled images, analysed at <= %d px, %d OpenCV thread(s)\n\n",
              samples.size(), size, threads);
  if (sharpness) {
    // For calibrating PHOTO_PIPELINE_BLUR_THRESHOLD on real photos.
    for (const Sample& s : samples) {
      // Beside each photo, the same photo defocused (Gaussian sigma 2 px at
      // 1280 px): a threshold should sit between the two columns.
      cv::Mat blurred;
      cv::GaussianBlur(s.pixels, blurred, cv::Size(0, 0), 2.0 * std::max(s.pixels.cols, s.pixels.rows) / 1280.0);
      auto v = photo::detect::Sharpness(s.pixels);
      auto b = photo::detect::Sharpness(blurred);
      std::printf("sharpness %8.1f  blurred %7.1f  %s\n", v.ok() ? *v : -1.0, b.ok() ? *b : -1.0,
                  s.file.c_str());
    }
    std::printf("\n");
  }
  std::printf(
      "| detector | exact | within tol. | precision | recall | found/truth | CPU ms/image | wall "
      "ms/image |\n");
  std::printf("|---|---|---|---|---|---|---|---|\n");
  for (const std::string& spec : specs) {
    FaceOptions o;
    if (!ParseSpec(spec, model_dir, o)) return 2;
    auto det = FaceDetector::Create(o);
    if (!det) {
      std::cerr << det.error().ToString() << "\n";
      return 1;
    }
    (void)(*det)->Detect(samples.front().pixels);  // warm-up: first-run allocations
    int exact = 0, within = 0;
    long truth = 0, found = 0, matched = 0;
    double wall_ms = 0, cpu_ms = 0;
    std::string detail;
    PassTally tally;
    for (const Sample& s : samples) {
      std::vector<photo::detect::FacePass> passes;
      const double c0 = ThreadCpuMs();
      const auto t0 = std::chrono::steady_clock::now();
      auto boxes = (*det)->Detect(s.pixels, show_passes ? &passes : nullptr);
      wall_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0)
                     .count();
      cpu_ms += ThreadCpuMs() - c0;
      if (!boxes) {
        std::cerr << s.file << ": " << boxes.error().ToString() << "\n";
        return 1;
      }
      const int f = static_cast<int>(boxes->size());
      exact += f == s.faces;
      within += std::abs(f - s.faces) <= s.tolerance;
      truth += s.faces;
      found += f;
      if (show_passes) tally.Add(s.file, s.pixels.size(), passes, *boxes, o.score_threshold);
      const int hit = s.boxes.empty() ? std::min(f, s.faces) : MatchBoxes(s.boxes, *boxes);
      matched += hit;
      if (verbose && (f != s.faces || hit != s.faces)) {
        detail += "    " + s.file + ": found " + std::to_string(f) + ", truth " +
                  std::to_string(s.faces) + (s.boxes.empty() ? "" : ", matched boxes " + std::to_string(hit)) + "\n";
      }
    }
    const auto n = static_cast<double>(samples.size());
    std::string label = (*det)->name();
    if (spec == "old" || spec == "new" || spec == "v13") label = spec + " default: " + label;
    if (o.kind == photo::detect::FaceModelKind::kBlazeFaceFront128 ||
        o.kind == photo::detect::FaceModelKind::kBlazeFaceBack256) {
      char th[32];
      std::snprintf(th, sizeof th, " th=%.2f", o.score_threshold);
      label += th;
    }
    std::printf("| %s | %d/%zu (%.0f%%) | %d/%zu (%.0f%%) | %.3f | %.3f | %ld/%ld | %.1f | %.1f |\n",
                label.c_str(), exact, samples.size(), 100 * exact / n,
                within, samples.size(), 100 * within / n,
                found ? static_cast<double>(matched) / static_cast<double>(found) : 1.0,
                truth ? static_cast<double>(matched) / static_cast<double>(truth) : 1.0, found,
                truth, cpu_ms / n, wall_ms / n);
    if (verbose) std::printf("%s", detail.c_str());
    if (show_passes) tally.Print(samples.size());
    std::fflush(stdout);
  }
  return 0;
}
