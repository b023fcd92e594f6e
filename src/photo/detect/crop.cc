#include "photo/detect/crop.h"

#include <vips/vips8>

#include <algorithm>
#include <cmath>

#include <opencv2/imgproc.hpp>

#include "photo/core/text.h"
#include "photo/image/encode.h"
#include "photo/image/vips.h"

namespace photo::detect {
namespace {

// 8-bit RGB libvips image over a copy of `bgr`'s pixels (the VImage owns
// nothing; `rgb` must outlive it).
vips::VImage ToVips(const cv::Mat& bgr, cv::Mat& rgb) {
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  if (!rgb.isContinuous()) rgb = rgb.clone();
  return vips::VImage::new_from_memory(rgb.data, rgb.total() * 3, rgb.cols, rgb.rows, 3,
                                       VIPS_FORMAT_UCHAR);
}

bool ValidInput(const cv::Mat& bgr, cv::Size target) {
  return !bgr.empty() && bgr.type() == CV_8UC3 && target.width > 0 && target.height > 0;
}

}  // namespace

cv::Size CropBoxSize(cv::Size image, cv::Size target) {
  if (image.width <= 0 || image.height <= 0 || target.width <= 0 || target.height <= 0) return {0, 0};
  // Compare the aspect ratios exactly (integers), then round the free side.
  const long long wide = 1LL * image.width * target.height, tall = 1LL * image.height * target.width;
  if (wide >= tall) {
    const int w = static_cast<int>(std::lround(1.0 * image.height * target.width / target.height));
    return {std::clamp(w, 1, image.width), image.height};
  }
  const int h = static_cast<int>(std::lround(1.0 * image.width * target.height / target.width));
  return {image.width, std::clamp(h, 1, image.height)};
}

std::optional<CropChoice> ChooseFaceCrop(cv::Size image, cv::Size target,
                                         const std::vector<image::Box>& faces) {
  const cv::Rect frame(0, 0, image.width, image.height);
  std::vector<cv::Rect> rects;
  for (const image::Box& f : faces) {
    const cv::Rect r = cv::Rect(f.x, f.y, f.width, f.height) & frame;
    if (r.area() > 0) rects.push_back(r);
  }
  if (rects.empty() || target.width <= 0 || target.height <= 0) return std::nullopt;
  const cv::Size box = CropBoxSize(image, target);
  std::stable_sort(rects.begin(), rects.end(),
                   [](const cv::Rect& a, const cv::Rect& b) { return a.area() > b.area(); });
  // Largest first: a face joins when the union still fits; one that does not
  // is left out, and smaller ones may still join.
  cv::Rect kept;
  for (const cv::Rect& r : rects) {
    const cv::Rect u = kept.area() == 0 ? r : (kept | r);
    if (u.width <= box.width && u.height <= box.height) kept = u;
  }
  if (kept.area() == 0) kept = rects.front();  // a face larger than the box: centre on it
  const int cx = kept.x + kept.width / 2, cy = kept.y + kept.height / 2;
  CropChoice c;
  c.box = cv::Rect(std::clamp(cx - box.width / 2, 0, image.width - box.width),
                   std::clamp(cy - box.height / 2, 0, image.height - box.height), box.width,
                   box.height);
  c.method = "faces";
  for (const cv::Rect& r : rects) c.faces += (r & c.box) == r;
  return c;
}

Result<cv::Rect> AttentionCrop(const cv::Mat& bgr, cv::Size target) {
  if (!ValidInput(bgr, target)) {
    return InvalidArgumentError("invalid_image", "crop needs an 8-bit BGR image and a target box");
  }
  image::InitVips();
  const cv::Size box = CropBoxSize(bgr.size(), target);
  try {
    cv::Mat rgb;
    vips::VImage in = ToVips(bgr, rgb);
    vips::VImage out = in.smartcrop(
        box.width, box.height,
        vips::VImage::option()->set("interesting", VIPS_INTERESTING_ATTENTION));
    // vips_smartcrop ends in an extract_area, which records the cut as a
    // negative origin offset.
    return cv::Rect(-out.xoffset(), -out.yoffset(), box.width, box.height) &
           cv::Rect(0, 0, bgr.cols, bgr.rows);
  } catch (const vips::VError& e) {
    return InternalError("crop_failed", std::string("smartcrop: ") + BoundedErrorText(e.what()));
  }
}

Result<CropChoice> ChooseCrop(const cv::Mat& bgr, cv::Size target,
                              const std::vector<image::Box>& faces) {
  if (!ValidInput(bgr, target)) {
    return InvalidArgumentError("invalid_image", "crop needs an 8-bit BGR image and a target box");
  }
  if (auto c = ChooseFaceCrop(bgr.size(), target, faces)) return *c;
  ASSIGN_OR_RETURN(cv::Rect box, AttentionCrop(bgr, target));
  return CropChoice{box, "attention", 0};
}

Result<EncodedCrop> EncodeCrop(const cv::Mat& bgr, const cv::Rect& box, cv::Size target,
                               image::OutputFormat format, int quality) {
  if (!ValidInput(bgr, target) || box.area() == 0 ||
      (box & cv::Rect(0, 0, bgr.cols, bgr.rows)) != box) {
    return InvalidArgumentError("invalid_crop", "crop box outside the image");
  }
  image::InitVips();
  try {
    cv::Mat cut = bgr(box), scaled;
    // Never enlarged: a box smaller than the target keeps its size.
    const double s = std::min({1.0, 1.0 * target.width / box.width,
                               1.0 * target.height / box.height});
    const cv::Size size(std::max(1, static_cast<int>(std::lround(box.width * s))),
                        std::max(1, static_cast<int>(std::lround(box.height * s))));
    if (size == box.size()) {
      scaled = cut;
    } else {
      cv::resize(cut, scaled, size, 0, 0, cv::INTER_AREA);
    }
    cv::Mat rgb;
    vips::VImage img = ToVips(scaled, rgb);
    EncodedCrop out;
    out.width = scaled.cols;
    out.height = scaled.rows;
    out.bytes = image::EncodeVips(img, format, quality);
    return out;
  } catch (const vips::VError& e) {
    return InternalError("encode_failed", std::string("crop: ") + BoundedErrorText(e.what()));
  } catch (const cv::Exception& e) {
    return InternalError("crop_failed", BoundedErrorText(e.what()));
  }
}

}  // namespace photo::detect
