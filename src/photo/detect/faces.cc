#include "photo/detect/faces.h"

#include "photo/detect/dnn_cache.h"

#include <time.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <unordered_map>
#include <utility>

#include <opencv2/dnn.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/objdetect.hpp>

#include "photo/core/files.h"
#include "photo/core/text.h"

namespace photo::detect {
namespace {

namespace fs = std::filesystem;
using image::Box;

bool IsBlazeFace(FaceModelKind kind) {
  return kind == FaceModelKind::kBlazeFaceFront128 || kind == FaceModelKind::kBlazeFaceBack256;
}

int InputSize(FaceModelKind kind) { return kind == FaceModelKind::kBlazeFaceFront128 ? 128 : 256; }

fs::path ModelPath(const FaceOptions& o) {
  switch (o.kind) {
    case FaceModelKind::kBlazeFaceFront128:
    case FaceModelKind::kBlazeFaceBack256:
      return o.model_dir / FaceModelFile(o.kind);
    case FaceModelKind::kHaarDefault:
      return o.cascade_dir / "haarcascades" / FaceModelFile(o.kind);
    case FaceModelKind::kLbpImproved:
      return o.cascade_dir / "lbpcascades" / FaceModelFile(o.kind);
  }
  return {};
}

// Each detector gets a process-unique key so that a thread's cached network
// can never be confused with one built for an earlier, destroyed detector.

float Sigmoid(float x) {
  // MediaPipe clips raw logits to +-100 before the sigmoid.
  x = std::clamp(x, -100.f, 100.f);
  return 1.f / (1.f + std::exp(-x));
}

// One SSD output head: `cells` x `cells` grid, `anchors` anchors per cell.
struct Head {
  int cells;
  int anchors;
  int count() const { return cells * cells * anchors; }
};
constexpr Head kHeads[2] = {{16, 2}, {8, 6}};

// Candidates larger than this many model-input pixels get no tile window
// (see CandidateWindows).
constexpr double kMaxCandidateInputPx = 28;

// Start offsets of `tile`-sized windows covering [0, extent): as few as
// possible while neighbours overlap by at least a sixth of a tile (more than
// the largest face the whole-image pass can miss), spread evenly.
std::vector<int> TileStarts(int extent, int tile) {
  if (extent <= tile) return {0};
  const int step = tile - tile / 6;
  const int n = (extent - tile + step - 1) / step + 1;
  std::vector<int> starts;
  for (int i = 0; i < n; ++i) {
    starts.push_back(static_cast<int>(std::lround(1.0 * i * (extent - tile) / (n - 1))));
  }
  return starts;
}

double ThreadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

// `b` in the frame of an image `f` times smaller.
Box Shrunk(Box b, double f) {
  const int x1 = static_cast<int>(std::lround((b.x + b.width) / f));
  const int y1 = static_cast<int>(std::lround((b.y + b.height) / f));
  b.x = static_cast<int>(std::lround(b.x / f));
  b.y = static_cast<int>(std::lround(b.y / f));
  b.width = x1 - b.x;
  b.height = y1 - b.y;
  return b;
}

}  // namespace

std::string_view FaceModelName(FaceModelKind kind) {
  switch (kind) {
    case FaceModelKind::kBlazeFaceFront128: return "blazeface-front-128";
    case FaceModelKind::kBlazeFaceBack256: return "blazeface-back-256";
    case FaceModelKind::kHaarDefault: return "haar";
    case FaceModelKind::kLbpImproved: return "lbp";
  }
  return "unknown";
}

Result<FaceModelKind> ParseFaceModel(std::string_view name) {
  for (auto k : {FaceModelKind::kBlazeFaceFront128, FaceModelKind::kBlazeFaceBack256,
                 FaceModelKind::kHaarDefault, FaceModelKind::kLbpImproved}) {
    if (FaceModelName(k) == name) return k;
  }
  return InvalidArgumentError(
      "invalid_config", "unknown face model '" + std::string(name) +
                            "' (expected blazeface-front-128, blazeface-back-256, haar or lbp)");
}

std::string_view FaceModelFile(FaceModelKind kind) {
  switch (kind) {
    case FaceModelKind::kBlazeFaceFront128: return "face_detection_front_128x128_barracuda.onnx";
    case FaceModelKind::kBlazeFaceBack256: return "face_detection_back_256x256_barracuda.onnx";
    case FaceModelKind::kHaarDefault: return "haarcascade_frontalface_default.xml";
    case FaceModelKind::kLbpImproved: return "lbpcascade_frontalface_improved.xml";
  }
  return "";
}

double IoU(const Box& a, const Box& b) {
  const int x0 = std::max(a.x, b.x), y0 = std::max(a.y, b.y);
  const int x1 = std::min(a.x + a.width, b.x + b.width);
  const int y1 = std::min(a.y + a.height, b.y + b.height);
  const double inter = std::max(0, x1 - x0) * 1.0 * std::max(0, y1 - y0);
  const double uni = 1.0 * a.width * a.height + 1.0 * b.width * b.height - inter;
  return uni > 0 ? inter / uni : 0.0;
}

std::vector<Box> WeightedNms(std::vector<Box> boxes, double iou) {
  std::stable_sort(boxes.begin(), boxes.end(),
                   [](const Box& a, const Box& b) { return a.score > b.score; });
  std::vector<bool> used(boxes.size(), false);
  std::vector<Box> out;
  for (size_t i = 0; i < boxes.size(); ++i) {
    if (used[i]) continue;
    double sx = 0, sy = 0, sx1 = 0, sy1 = 0, sw = 0;
    for (size_t j = i; j < boxes.size(); ++j) {
      if (used[j] || (j != i && IoU(boxes[i], boxes[j]) < iou)) continue;
      used[j] = true;
      // A zero score would drop out of the mean; give it a tiny weight.
      const double w = std::max(1e-6, static_cast<double>(boxes[j].score));
      sx += w * boxes[j].x;
      sy += w * boxes[j].y;
      sx1 += w * (boxes[j].x + boxes[j].width);
      sy1 += w * (boxes[j].y + boxes[j].height);
      sw += w;
    }
    Box m;
    m.x = static_cast<int>(std::lround(sx / sw));
    m.y = static_cast<int>(std::lround(sy / sw));
    m.width = static_cast<int>(std::lround(sx1 / sw)) - m.x;
    m.height = static_cast<int>(std::lround(sy1 / sw)) - m.y;
    m.score = boxes[i].score;
    out.push_back(m);
  }
  return out;
}

struct FaceDetector::Impl {
  FaceOptions options;
  std::uint64_t generation = 0;
  fs::path path;
  std::vector<uchar> onnx;  // BlazeFace model bytes, read once per process

  cv::dnn::Net& ThreadNet() const { return internal::ThreadOnnxNet(generation, onnx); }

  cv::CascadeClassifier& ThreadCascade() const {
    thread_local std::unordered_map<std::uint64_t, cv::CascadeClassifier> cascades;
    auto it = cascades.find(generation);
    if (it == cascades.end()) {
      cv::CascadeClassifier c;
      c.load(path.string());  // checked once in Create()
      it = cascades.emplace(generation, std::move(c)).first;
    }
    return it->second;
  }

  // Runs BlazeFace on `window` of `bgr` (letterboxed into the model's square
  // input, padded right/bottom) and appends boxes in image coordinates.
  void RunBlaze(const cv::Mat& bgr, const cv::Rect& window, double min_score, std::vector<Box>& out,
                bool mirror, std::vector<FacePass>* trace) const {
    const double cpu0 = trace ? ThreadCpuMs() : 0;
    const size_t first_out = out.size();
    const int n = InputSize(options.kind);
    const double scale = static_cast<double>(n) / std::max(window.width, window.height);
    const int rw = std::max(1, static_cast<int>(std::lround(window.width * scale)));
    const int rh = std::max(1, static_cast<int>(std::lround(window.height * scale)));
    cv::Mat square(n, n, CV_8UC3, cv::Scalar::all(0));
    cv::resize(bgr(window), square(cv::Rect(0, 0, rw, rh)), cv::Size(rw, rh), 0, 0,
               scale < 1 ? cv::INTER_AREA : cv::INTER_LINEAR);
    // Mirrored: the model sees the window flipped (profiles facing the other
    // way score differently); flipping only the content keeps the padding
    // at the right, and boxes are flipped back below.
    if (mirror) {
      cv::Mat flipped;
      cv::flip(square(cv::Rect(0, 0, rw, rh)), flipped, 1);
      flipped.copyTo(square(cv::Rect(0, 0, rw, rh)));
    }
    cv::cvtColor(square, square, cv::COLOR_BGR2RGB);
    cv::Mat input;
    square.convertTo(input, CV_32F, 2.0 / 255.0, -1.0);  // MediaPipe's [-1, 1]
    const int dims[4] = {1, n, n, 3};                  // the model takes NHWC
    cv::Mat blob(4, dims, CV_32F, input.data);

    cv::dnn::Net& net = ThreadNet();
    net.setInput(blob);
    std::vector<cv::Mat> outs;
    net.forward(outs, net.getUnconnectedOutLayersNames());
    const float* scores[2] = {nullptr, nullptr};
    const float* regs[2] = {nullptr, nullptr};
    for (const cv::Mat& o : outs) {
      for (int h = 0; h < 2; ++h) {
        const auto count = static_cast<size_t>(kHeads[h].count());
        if (o.total() == count) scores[h] = o.ptr<float>();
        if (o.total() == count * 16) regs[h] = o.ptr<float>();
      }
    }
    if (!scores[0] || !scores[1] || !regs[0] || !regs[1]) {
      throw cv::Exception(cv::Error::StsError, "unexpected BlazeFace output layout", __func__,
                          __FILE__, __LINE__);
    }
    const auto threshold = static_cast<float>(min_score);
    for (int h = 0; h < 2; ++h) {
      const Head head = kHeads[h];
      for (int i = 0; i < head.count(); ++i) {
        const float s = Sigmoid(scores[h][i]);
        if (s < threshold) continue;
        const int cell = i / head.anchors;
        const double ax = (cell % head.cells + 0.5) / head.cells;
        const double ay = (cell / head.cells + 0.5) / head.cells;
        const float* r = regs[h] + static_cast<ptrdiff_t>(i) * 16;
        // Offsets are in input pixels relative to the anchor centre.
        double cx = ax * n + double{r[0]};
        const double cy = ay * n + double{r[1]};
        if (mirror) cx = rw - cx;
        const double w = r[2], hgt = r[3];
        Box b;
        b.x = window.x + static_cast<int>(std::lround((cx - w / 2) / scale));
        b.y = window.y + static_cast<int>(std::lround((cy - hgt / 2) / scale));
        b.width = static_cast<int>(std::lround(w / scale));
        b.height = static_cast<int>(std::lround(hgt / scale));
        b.score = s;
        if (b.width > 0 && b.height > 0) out.push_back(b);
      }
    }
    if (trace) {
      FacePass p;
      p.window = window;
      p.whole = window == cv::Rect(0, 0, bgr.cols, bgr.rows);
      p.mirrored = mirror;
      p.boxes.assign(out.begin() + static_cast<ptrdiff_t>(first_out), out.end());
      p.cpu_ms = ThreadCpuMs() - cpu0;
      trace->push_back(std::move(p));
    }
  }

  // Runs `win` (mirrored or not) and keeps its detections at the final
  // threshold, except those touching an inner tile edge: half a face, which a
  // neighbouring window (they overlap) or the whole-image pass sees whole.
  // Whole detections under the final threshold but at least `weak_score`
  // go to `weak`.
  void RunTile(const cv::Mat& bgr, const cv::Rect& win, bool mirror, double weak_score,
               std::vector<Box>& out, std::vector<Box>& weak, std::vector<FacePass>* trace) const {
    const cv::Rect full(0, 0, bgr.cols, bgr.rows);
    std::vector<Box> part;
    RunBlaze(bgr, win, std::min(weak_score, options.score_threshold), part, mirror, trace);
    const int m = std::max(2, options.tile_px / 64);
    for (const Box& b : part) {
      const bool cut = (b.x < win.x + m && win.x > 0) || (b.y < win.y + m && win.y > 0) ||
                       (b.x + b.width > win.br().x - m && win.br().x < full.width) ||
                       (b.y + b.height > win.br().y - m && win.br().y < full.height);
      if (cut) continue;
      (double{b.score} >= options.score_threshold ? out : weak).push_back(b);
    }
  }

  // Whether `window` holds `box` far enough from its inner edges that
  // RunTile will not drop the face as cut off: `margin` px inside every edge
  // that is not the image's own.
  bool Holds(const cv::Rect& window, const cv::Rect& box, const cv::Rect& full, int margin) const {
    // An edge on the image's border cuts no face (RunTile keeps those); with
    // centred windows every edge counts, as it did before windows were packed.
    const int left = window.x > 0 || !options.pack_windows ? margin : 0;
    const int top = window.y > 0 || !options.pack_windows ? margin : 0;
    const int right = window.br().x < full.width || !options.pack_windows ? margin : 0;
    const int bottom = window.br().y < full.height || !options.pack_windows ? margin : 0;
    return box.x >= window.x + left && box.y >= window.y + top &&
           box.br().x <= window.br().x - right && box.br().y <= window.br().y - bottom;
  }

  // Square `tile` windows (clamped into the image) over the weak whole-image
  // candidates that no accepted face explains.
  std::vector<cv::Rect> CandidateWindows(const cv::Mat& bgr, const std::vector<Box>& weak,
                                         const std::vector<Box>& accepted, int tile) const {
    const cv::Rect full(0, 0, bgr.cols, bgr.rows);
    // A face already this large in the model's input gets its full score from
    // the whole-image pass; a weak score there means "not a face", and
    // zooming would not change it. Only small candidates earn a window.
    const double small = kMaxCandidateInputPx * std::max(bgr.cols, bgr.rows) /
                         InputSize(options.kind);
    std::vector<cv::Rect> cands;  // strongest first, clipped to the image
    std::vector<cv::Point> centres;
    for (const Box& c : WeightedNms(weak, options.nms_iou)) {
      if (std::max(c.width, c.height) > small || Explained(c, accepted)) continue;
      const cv::Rect box = cv::Rect(c.x, c.y, c.width, c.height) & full;
      if (box.area() == 0) continue;
      cands.push_back(box);
      centres.emplace_back(c.x + c.width / 2, c.y + c.height / 2);
    }
    // How far inside a window's inner edges a candidate must sit. Packed: a
    // fifth of the window and at least the face's own size, since a small
    // face near a window's edge scores lower than centred (at an eighth, 3 of
    // the 7 faces of 24 px that centred windows find were lost: the
    // CandidateSweep test).
    auto margin = [&](const cv::Rect& r) {
      return options.pack_windows ? std::max(tile / 5, std::max(r.width, r.height)) : tile / 8;
    };
    auto at = [&](int x, int y) {
      return cv::Rect(std::clamp(x, 0, std::max(0, bgr.cols - tile)),
                      std::clamp(y, 0, std::max(0, bgr.rows - tile)), tile, tile) &
             full;
    };
    std::vector<bool> held(cands.size(), false);
    std::vector<cv::Rect> windows;
    std::vector<int> counts;  // candidates each window holds
    for (size_t i = 0; i < cands.size(); ++i) {
      if (held[i]) continue;
      const cv::Rect& seed = cands[i];
      const cv::Point centre = centres[i];
      cv::Rect best = at(centre.x - tile / 2, centre.y - tile / 2);
      if (options.pack_windows) {
        // Candidate placements: the window's edges just outside the margin of
        // each candidate within reach of the seed; the one holding the most
        // candidates (the seed among them) wins, the most centred on a tie.
        std::vector<int> xs = {best.x}, ys = {best.y};
        for (size_t j = i; j < cands.size(); ++j) {
          const cv::Rect& r = cands[j];
          if (held[j] || std::abs(r.x - seed.x) > tile || std::abs(r.y - seed.y) > tile) continue;
          const int m = margin(r);
          xs.insert(xs.end(), {r.x - m, r.br().x + m - tile});
          ys.insert(ys.end(), {r.y - m, r.br().y + m - tile});
        }
        int most = 0;
        long nearest = 0;
        for (int x : xs) {
          for (int y : ys) {
            const cv::Rect w = at(x, y);
            if (!Holds(w, seed, full, margin(seed))) continue;
            int n = 0;
            for (size_t j = i; j < cands.size(); ++j) {
              n += !held[j] && Holds(w, cands[j], full, margin(cands[j]));
            }
            const long off = std::labs(long{w.x} + tile / 2 - centre.x) +
                             std::labs(long{w.y} + tile / 2 - centre.y);
            if (n > most || (n == most && off < nearest)) {
              most = n;
              nearest = off;
              best = w;
            }
          }
        }
      }
      int n = 0;
      for (size_t j = i; j < cands.size(); ++j) {
        if (held[j] || !Holds(best, cands[j], full, margin(cands[j]))) continue;
        held[j] = true;
        ++n;
      }
      windows.push_back(best);
      counts.push_back(n);
    }
    if (!options.pack_windows) return windows;  // strongest candidate first
    // Under a pass bound, the windows holding the most candidates go first.
    std::vector<size_t> order(windows.size());
    for (size_t k = 0; k < order.size(); ++k) order[k] = k;
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return counts[a] > counts[b]; });
    std::vector<cv::Rect> sorted;
    for (size_t k : order) sorted.push_back(windows[k]);
    return sorted;
  }

  // A detection that overlaps an accepted face is that face, seen worse.
  static bool Explained(const Box& c, const std::vector<Box>& accepted) {
    for (const Box& a : accepted) {
      if (IoU(a, c) > 0.1) return true;
    }
    return false;
  }

  // Whether a mirrored pass over a region whose plain pass left `weak` can
  // add a face: only when some detection there came within mirror_swing of
  // the threshold and is not a face already accepted.
  bool MirrorCanAdd(const std::vector<Box>& weak, const std::vector<Box>& accepted) const {
    if (options.mirror_swing <= 0) return true;
    const double evidence = options.score_threshold - options.mirror_swing;
    for (const Box& c : weak) {
      if (double{c.score} >= evidence && !Explained(c, accepted)) return true;
    }
    return false;
  }

  std::vector<Box> DetectBlaze(const cv::Mat& bgr, std::vector<FacePass>* trace) const {
    const cv::Rect full(0, 0, bgr.cols, bgr.rows);
    const int tile = options.tile_px;
    const bool tiling = tile > 0 && std::max(bgr.cols, bgr.rows) > tile;
    const double threshold = options.score_threshold;
    const double cand = options.candidate_threshold;
    const bool by_candidates = tiling && cand > 0 && cand < threshold;
    const int budget = options.max_passes > 0 ? options.max_passes : std::numeric_limits<int>::max();
    // Plain passes keep what scores under the threshold too: the candidates
    // that earn a window, and the evidence that earns a mirrored pass.
    double keep = by_candidates ? cand : threshold;
    if (options.mirror && options.mirror_swing > 0) {
      keep = std::min(keep, std::max(0.0, threshold - options.mirror_swing));
    }
    std::vector<Box> raw;
    RunBlaze(bgr, full, keep, raw, /*mirror=*/false, trace);
    int passes = 1;
    std::vector<Box> boxes, weak;
    for (const Box& b : raw) (double{b.score} >= threshold ? boxes : weak).push_back(b);

    std::vector<cv::Rect> windows;
    if (tiling) {
      const std::vector<int> xs = TileStarts(bgr.cols, tile), ys = TileStarts(bgr.rows, tile);
      if (by_candidates) windows = CandidateWindows(bgr, weak, boxes, tile);
      if (!by_candidates || windows.size() > xs.size() * ys.size()) {
        windows.clear();
        for (int y : ys) {
          for (int x : xs) windows.push_back(cv::Rect(x, y, tile, tile) & full);
        }
        // When the budget cannot cover the grid, the tiles holding the most
        // weak candidates go first.
        auto evidence = [&](const cv::Rect& w) {
          int n = 0;
          for (const Box& c : weak)
            n += w.contains(cv::Point(c.x + c.width / 2, c.y + c.height / 2));
          return n;
        };
        std::stable_sort(windows.begin(), windows.end(), [&](const cv::Rect& a, const cv::Rect& b) {
          return evidence(a) > evidence(b);
        });
      }
    }
    // Every window once, then (budget allowing) the mirrored passes of the
    // whole image and of the windows where they can add a face. Mirrored
    // passes decide at the final threshold: nothing comes after them.
    std::vector<std::vector<Box>> window_weak(windows.size());
    for (size_t k = 0; k < windows.size(); ++k) {
      if (passes >= budget) return boxes;
      RunTile(bgr, windows[k], /*mirror=*/false, keep, boxes, window_weak[k], trace);
      ++passes;
    }
    if (!options.mirror) return boxes;
    if (MirrorCanAdd(weak, boxes)) {
      if (passes >= budget) return boxes;
      RunBlaze(bgr, full, threshold, boxes, /*mirror=*/true, trace);
      ++passes;
    }
    for (size_t k = 0; k < windows.size(); ++k) {
      if (!MirrorCanAdd(window_weak[k], boxes)) continue;
      if (passes >= budget) return boxes;
      std::vector<Box> ignored;
      RunTile(bgr, windows[k], /*mirror=*/true, threshold, boxes, ignored, trace);
      ++passes;
    }
    return boxes;
  }

  std::vector<Box> DetectCascade(const cv::Mat& bgr) const {
    cv::Mat gray;
    cv::cvtColor(bgr, gray, cv::COLOR_BGR2GRAY);
    cv::equalizeHist(gray, gray);
    std::vector<cv::Rect> rects;
    std::vector<int> neighbours;
    ThreadCascade().detectMultiScale(gray, rects, neighbours, 1.1, 5, 0, cv::Size(20, 20));
    std::vector<Box> boxes;
    for (size_t i = 0; i < rects.size(); ++i) {
      // Cascades have no probability; more agreeing neighbours = surer.
      const float score = std::min(1.f, static_cast<float>(neighbours[i]) / 20.f);
      boxes.push_back({rects[i].x, rects[i].y, rects[i].width, rects[i].height, score});
    }
    return boxes;
  }
};

FaceDetector::FaceDetector(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FaceDetector::~FaceDetector() = default;

Result<std::unique_ptr<FaceDetector>> FaceDetector::Create(const FaceOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->generation = internal::NextModelGeneration();
  impl->path = ModelPath(options);
  std::error_code ec;
  if (!fs::is_regular_file(impl->path, ec)) {
    std::string hint = IsBlazeFace(options.kind)
                           ? " (run scripts/fetch-models.sh, or set PHOTO_PIPELINE_MODEL_DIR)"
                           : " (install Debian's opencv-data)";
    return NotFoundError("model_missing", "face model not found: " + impl->path.string() + hint);
  }
  try {
    if (IsBlazeFace(options.kind)) {
      ASSIGN_OR_RETURN(const std::string bytes, ReadFile(impl->path));
      impl->onnx.assign(bytes.begin(), bytes.end());
      // Build this thread's network now so a bad file fails here, not later.
      if (impl->ThreadNet().empty()) {
        return InternalError("model_invalid", "cannot load " + impl->path.string());
      }
    } else if (impl->ThreadCascade().empty()) {
      return InternalError("model_invalid", "cannot load cascade " + impl->path.string());
    }
  } catch (const cv::Exception& e) {
    return InternalError("model_invalid", impl->path.string() + ": " + BoundedErrorText(e.what()));
  }
  return std::unique_ptr<FaceDetector>(new FaceDetector(std::move(impl)));
}

Result<std::vector<Box>> FaceDetector::Detect(const cv::Mat& bgr,
                                              std::vector<FacePass>* passes) const {
  if (bgr.empty() || bgr.type() != CV_8UC3) {
    return InvalidArgumentError("invalid_image", "face detection needs a non-empty 8-bit BGR image");
  }
  try {
    std::vector<Box> boxes;
    const int long_edge = std::max(bgr.cols, bgr.rows);
    const int min_edge = impl_->options.min_long_edge;
    if (!IsBlazeFace(impl_->options.kind)) {
      boxes = impl_->DetectCascade(bgr);
    } else if (min_edge > 0 && long_edge < min_edge) {
      // A small picture's faces are small in pixels too: enlarged, they reach
      // the size the model (and the tile pass) works at. At most 4x: beyond
      // that there is no detail left to find a face in.
      const double f = std::min(4.0, static_cast<double>(min_edge) / long_edge);
      cv::Mat big;
      cv::resize(bgr, big,
                 cv::Size(static_cast<int>(std::lround(bgr.cols * f)),
                          static_cast<int>(std::lround(bgr.rows * f))),
                 0, 0, cv::INTER_LINEAR);
      const size_t first_pass = passes ? passes->size() : 0;
      boxes = impl_->DetectBlaze(big, passes);
      for (Box& b : boxes) b = Shrunk(b, f);
      for (size_t i = first_pass; passes && i < passes->size(); ++i) {
        FacePass& p = (*passes)[i];
        const Box w = Shrunk({p.window.x, p.window.y, p.window.width, p.window.height, 0}, f);
        p.window = cv::Rect(w.x, w.y, w.width, w.height) & cv::Rect(0, 0, bgr.cols, bgr.rows);
        for (Box& b : p.boxes) b = Shrunk(b, f);
      }
    } else {
      boxes = impl_->DetectBlaze(bgr, passes);
    }
    boxes = WeightedNms(std::move(boxes), impl_->options.nms_iou);
    std::vector<Box> clipped;
    for (Box b : boxes) {
      const int x1 = std::min(bgr.cols, b.x + b.width), y1 = std::min(bgr.rows, b.y + b.height);
      b.x = std::max(0, b.x);
      b.y = std::max(0, b.y);
      b.width = x1 - b.x;
      b.height = y1 - b.y;
      if (b.width > 0 && b.height > 0) clipped.push_back(b);
    }
    return clipped;
  } catch (const cv::Exception& e) {
    return InternalError("face_detection_failed", BoundedErrorText(e.what()));
  }
}

std::string FaceDetector::name() const {
  std::string n(FaceModelName(impl_->options.kind));
  if (IsBlazeFace(impl_->options.kind) && impl_->options.tile_px > 0) {
    n += "+tiles" + std::to_string(impl_->options.tile_px);
    const double cand = impl_->options.candidate_threshold;
    if (cand > 0 && cand < impl_->options.score_threshold) n += "-cand";
  }
  if (IsBlazeFace(impl_->options.kind)) {
    if (impl_->options.min_long_edge > 0) n += "+up" + std::to_string(impl_->options.min_long_edge);
    if (impl_->options.mirror) n += "+mirror";
  }
  return n;
}

const FaceOptions& FaceDetector::options() const { return impl_->options; }

}  // namespace photo::detect
