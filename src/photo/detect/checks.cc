#include "photo/detect/checks.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <map>

#include <opencv2/img_hash.hpp>
#include <opencv2/imgproc.hpp>

#include "photo/core/text.h"

namespace photo::detect {
namespace {

Status CheckInput(const cv::Mat& bgr) {
  if (bgr.empty() || bgr.type() != CV_8UC3) {
    return InvalidArgumentError("invalid_image", "expected a non-empty 8-bit BGR image");
  }
  return Status::Ok();
}

cv::Mat ScaleLongEdge(const cv::Mat& m, int long_edge) {
  const double s = static_cast<double>(long_edge) / std::max(m.cols, m.rows);
  cv::Mat out;
  cv::resize(m, out,
             cv::Size(std::max(1, static_cast<int>(std::lround(m.cols * s))),
                      std::max(1, static_cast<int>(std::lround(m.rows * s)))),
             0, 0, s < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
  return out;
}

std::string Hex(const cv::Vec3f& bgr) {
  auto c = [](float v) { return static_cast<int>(std::clamp(std::lround(v), 0L, 255L)); };
  char buf[8];
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", c(bgr[2]), c(bgr[1]), c(bgr[0]));
  return buf;
}

}  // namespace

Result<std::uint64_t> PerceptualHash(const cv::Mat& bgr) {
  RETURN_IF_ERROR(CheckInput(bgr));
  try {
    cv::Mat hash;
    cv::img_hash::pHash(bgr, hash);
    std::uint64_t v = 0;
    for (int i = 0; i < 8; ++i) v = (v << 8) | hash.at<uchar>(0, i);
    return v;
  } catch (const cv::Exception& e) {
    return InternalError("analysis_failed", BoundedErrorText(e.what()));
  }
}

int HammingDistance(std::uint64_t a, std::uint64_t b) { return std::popcount(a ^ b); }

Result<double> Sharpness(const cv::Mat& bgr) {
  RETURN_IF_ERROR(CheckInput(bgr));
  try {
    // Grey first: the area resize then moves a third of the bytes. The
    // Laplacian of 8-bit input is an integer (|v| <= 2040), exact in float.
    cv::Mat gray, lap;
    cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
    if (std::max(gray.cols, gray.rows) != kSharpnessLongEdge) {
      gray = ScaleLongEdge(gray, kSharpnessLongEdge);
    }
    cv::Laplacian(gray, lap, CV_32F);
    cv::Scalar mean, stddev;
    cv::meanStdDev(lap, mean, stddev);
    return stddev[0] * stddev[0];
  } catch (const cv::Exception& e) {
    return InternalError("analysis_failed", BoundedErrorText(e.what()));
  }
}

Result<std::vector<image::ColorShare>> DominantColors(const cv::Mat& bgr, int k) {
  RETURN_IF_ERROR(CheckInput(bgr));
  if (k < 1 || k > 16) return InvalidArgumentError("invalid_argument", "k must be 1..16");
  try {
    cv::Mat small = std::max(bgr.cols, bgr.rows) > 64 ? ScaleLongEdge(bgr, 64) : bgr;
    cv::Mat samples;
    small.reshape(1, static_cast<int>(small.total())).convertTo(samples, CV_32F);
    const int clusters = std::min(k, samples.rows);
    cv::Mat labels, centers;
    // kmeans draws from cv::theRNG() (per thread); seed it so the same image
    // always yields the same colours.
    cv::theRNG().state = 0x5eed;
    cv::kmeans(samples, clusters, labels,
               cv::TermCriteria(cv::TermCriteria::EPS | cv::TermCriteria::COUNT, 20, 0.5), 3,
               cv::KMEANS_PP_CENTERS, centers);
    std::vector<int> counts(static_cast<size_t>(clusters), 0);
    for (int i = 0; i < labels.rows; ++i) ++counts[static_cast<size_t>(labels.at<int>(i))];
    // Identical or near-identical centres (a flat image) collapse to one hex.
    std::map<std::string, double> by_hex;
    for (int c = 0; c < clusters; ++c) {
      if (counts[static_cast<size_t>(c)] == 0) continue;
      const float* ctr = centers.ptr<float>(c);
      by_hex[Hex(cv::Vec3f(ctr[0], ctr[1], ctr[2]))] +=
          static_cast<double>(counts[static_cast<size_t>(c)]) / labels.rows;
    }
    std::vector<image::ColorShare> out;
    for (const auto& [hex, share] : by_hex) out.push_back({hex, share});
    std::stable_sort(out.begin(), out.end(),
                     [](const auto& a, const auto& b) { return a.share > b.share; });
    return out;
  } catch (const cv::Exception& e) {
    return InternalError("analysis_failed", BoundedErrorText(e.what()));
  }
}

}  // namespace photo::detect
