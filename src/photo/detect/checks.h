// Cheap, model-free checks over decoded pixels. All are pure functions of the
// image (deterministic, no I/O, no global state) and thread-safe.
// Inputs are 8-bit BGR (CV_8UC3) matrices; an empty or other-typed input
// gives InvalidArgument("invalid_image").
#pragma once

#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>

#include "photo/core/status.h"
#include "photo/image/types.h"

namespace photo::detect {

// 64-bit DCT perceptual hash (cv::img_hash::PHash: 32x32 grey, 8x8 low
// frequencies against their median), the 8 bytes read big-endian. Robust to
// resizing and recompression; different pictures differ in ~half the bits.
Result<std::uint64_t> PerceptualHash(const cv::Mat& bgr);

// Number of differing bits, 0..64. Near-duplicates are typically <= 10.
int HammingDistance(std::uint64_t a, std::uint64_t b);

// The long edge every input is scaled to (down with area averaging, up
// bilinearly) before the Laplacian: the variance of the Laplacian depends on
// scale, so a fixed size makes scores comparable across inputs.
inline constexpr int kSharpnessLongEdge = 800;

// Variance of the 3x3 Laplacian of the grey image at kSharpnessLongEdge.
// Higher = more fine detail; a defocused or shaken photo scores low.
Result<double> Sharpness(const cv::Mat& bgr);

// The `k` (1..16) dominant colours: k-means (fixed seed, deterministic) over
// a 64 px downsample, clusters with the same hex merged, sorted by share
// (descending), shares summing to 1. Fewer than k entries when the image has
// fewer distinct colours.
Result<std::vector<image::ColorShare>> DominantColors(const cv::Mat& bgr, int k = 5);

}  // namespace photo::detect
