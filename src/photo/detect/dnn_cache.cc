#include "photo/detect/dnn_cache.h"

#include <atomic>
#include <unordered_map>
#include <utility>

namespace photo::detect::internal {

std::uint64_t NextModelGeneration() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1);
}

cv::dnn::Net& ThreadOnnxNet(std::uint64_t generation, const std::vector<uchar>& onnx) {
  thread_local std::unordered_map<std::uint64_t, cv::dnn::Net> nets;
  auto it = nets.find(generation);
  if (it == nets.end()) {
    cv::dnn::Net net = cv::dnn::readNetFromONNX(onnx);
    net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
    net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    it = nets.emplace(generation, std::move(net)).first;
  }
  return it->second;
}

}  // namespace photo::detect::internal
