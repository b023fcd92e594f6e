// Face-aware crops: where to cut a fixed-box thumbnail (e.g. 320x320) out of
// an analysed image so that the detected faces stay in frame, and the cut
// itself.
//
// The box is always the largest one of the target's aspect ratio that fits
// the image (a crop never zooms in further than the aspect change forces), so
// choosing a crop means choosing its position along one axis:
//  - with faces: centred on the union of every face when that union fits in
//    the box; otherwise of the largest faces that fit together (largest
//    first, each added only if the union still fits);
//  - without faces: libvips' attention smart crop (vips_smartcrop with
//    VIPS_INTERESTING_ATTENTION) picks the position.
//
// Thread-safe; pure functions of their inputs.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "photo/core/status.h"
#include "photo/image/types.h"

namespace photo::detect {

struct CropChoice {
  cv::Rect box;        // in the image's pixels
  std::string method;  // "faces" or "attention"
  int faces = 0;       // faces wholly inside `box`
};

// The largest box of target's aspect ratio inside `image` (0x0 when either is empty).
cv::Size CropBoxSize(cv::Size image, cv::Size target);

// The face-keeping box, or nullopt when there are no (non-empty) faces.
std::optional<CropChoice> ChooseFaceCrop(cv::Size image, cv::Size target,
                                         const std::vector<image::Box>& faces);

// The box libvips' attention smart crop picks. Errors: InvalidArgument for an
// empty or non-8UC3 image or target; Internal when libvips fails.
Result<cv::Rect> AttentionCrop(const cv::Mat& bgr, cv::Size target);

// ChooseFaceCrop, falling back to AttentionCrop.
Result<CropChoice> ChooseCrop(const cv::Mat& bgr, cv::Size target,
                              const std::vector<image::Box>& faces);

struct EncodedCrop {
  int width = 0;
  int height = 0;
  std::string bytes;
};

// Cuts `box` out of `bgr`, scales it to `target` (area filter; never
// enlarged: a smaller box keeps its own size) and encodes it like every
// rendition (image::EncodeVips, metadata stripped). Errors: InvalidArgument
// for a box outside the image; Internal for an encoder failure.
Result<EncodedCrop> EncodeCrop(const cv::Mat& bgr, const cv::Rect& box, cv::Size target,
                               image::OutputFormat format, int quality);

}  // namespace photo::detect
