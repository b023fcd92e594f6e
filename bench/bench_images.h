// Synthetic benchmark inputs, built in-process once per size and cached,
// and the timing helpers the benchmarks share.
#pragma once

#include <string>
#include <vector>

namespace photo::bench {

// A grainy photo-like JPEG (4:2:0, Q90, like a phone camera's) of about
// `megapixels` MP at 4:3: 1 -> 1155x866, 12 -> 4000x3000, 50 -> 8165x6124.
const std::string& CameraJpeg(int megapixels);

// Width and height CameraJpeg uses.
void CameraSize(int megapixels, int* width, int* height);

// Process CPU time (all threads) in ms, and the median of samples: what the
// interleaved benchmarks report.
double CpuMs();
double Median(std::vector<double> v);

}  // namespace photo::bench
