// Per-thread OpenCV DNN networks, shared by the face detector and the
// classifier. A cv::dnn::Net is not safe to use from two threads, so each
// thread builds its own from the model bytes that were read once.
#pragma once

#include <opencv2/dnn.hpp>

#include <cstdint>
#include <vector>

namespace photo::detect::internal {

// A process-unique key for one loaded model (a reloaded model gets a new one,
// so no thread keeps using a stale network).
std::uint64_t NextModelGeneration();

// The calling thread's network for model `generation`, built from `onnx` on
// first use (OpenCV backend, CPU target). An empty Net if the bytes do not load.
cv::dnn::Net& ThreadOnnxNet(std::uint64_t generation, const std::vector<uchar>& onnx);

}  // namespace photo::detect::internal
