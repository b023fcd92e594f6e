#include "bench_images.h"

#include <time.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>

#include "photo/core/malloc_tuning.h"
#include "photo/image/testing/synth.h"

namespace photo::bench {
namespace {

// Before benchmark_main's main(): the benchmarks allocate like the workers
// do (photo-pipeline's main calls the same), so a 36 MB decode buffer is
// reused from the heap instead of page-faulted in afresh every iteration.
const bool kMallocTuned = [] {
  TuneMallocForImages();
  return true;
}();

}  // namespace

void CameraSize(int megapixels, int* width, int* height) {
  if (megapixels == 1) {
    *width = 1155;
    *height = 866;
  } else if (megapixels == 12) {
    *width = 4000;
    *height = 3000;
  } else {
    double mp = megapixels * 1e6;
    *width = static_cast<int>(std::lround(std::sqrt(mp * 4 / 3)));
    *height = static_cast<int>(std::lround(*width * 3.0 / 4));
  }
}

const std::string& CameraJpeg(int megapixels) {
  static std::mutex mu;
  static std::map<int, std::string> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto it = cache.find(megapixels);
  if (it != cache.end()) return it->second;
  image::testing::SynthOptions o;
  CameraSize(megapixels, &o.width, &o.height);
  o.quality = 90;
  o.subsample = true;
  o.noise_sigma = 8;  // grain: entropy (and decode cost) like a camera file
  o.camera = true;
  o.gps = true;
  return cache.emplace(megapixels, image::testing::MakePhoto(o)).first->second;
}

double CpuMs() {
  timespec t{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) / 1e6;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace photo::bench
