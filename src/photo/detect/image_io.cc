#include "photo/detect/image_io.h"

#include <turbojpeg.h>
#include <vips/vips8>

#include <algorithm>
#include <cctype>
#include <memory>
#include <optional>
#include <string>
#include <system_error>

#include <opencv2/imgproc.hpp>

#include "photo/core/files.h"
#include "photo/core/text.h"
#include "photo/image/probe.h"
#include "photo/image/vips.h"

namespace photo::detect {
namespace {

namespace fs = std::filesystem;
using vips::VImage;

// Brings any decoded image to 8-bit sRGB with 3 bands, then copies it into an
// owned BGR matrix (the VImage's pixels die with it).
cv::Mat ToBgr(VImage img) {
  if (img.interpretation() != VIPS_INTERPRETATION_sRGB) {
    img = img.colourspace(VIPS_INTERPRETATION_sRGB);
  }
  if (img.has_alpha()) {
    img = img.flatten(VImage::option()->set("background", std::vector<double>{255, 255, 255}));
  }
  if (img.bands() > 3) img = img.extract_band(0, VImage::option()->set("n", 3));
  if (img.format() != VIPS_FORMAT_UCHAR) img = img.cast(VIPS_FORMAT_UCHAR);
  size_t size = 0;
  void* mem = img.write_to_memory(&size);
  cv::Mat rgb(img.height(), img.width(), CV_8UC3, mem);
  cv::Mat bgr;
  cv::cvtColor(rgb, bgr, cv::COLOR_RGB2BGR);
  g_free(mem);
  return bgr;
}

struct TjDeleter {
  void operator()(void* h) const { tjDestroy(h); }
};

// Plain JPEGs at full size (what the detect stage reads: the resize stage's
// renditions are upright YCbCr JPEGs without metadata) go straight through
// libjpeg-turbo into BGR: the same decode libvips' jpegload runs (accurate
// integer IDCT, fancy upsampling), so the same pixels, without libvips'
// pipeline and the RGB->BGR copy (issue #14: 7.2 -> ~3 CPU-ms for a 1280 px
// rendition). ICC profiles are ignored on both paths. nullopt: not for this
// path (another format, an EXIF orientation to apply, CMYK or grey, or
// anything libjpeg-turbo refuses); libvips decides then.
std::optional<cv::Mat> DecodePlainJpeg(std::string_view bytes) {
  Result<image::ProbeInfo> info = image::ProbeBuffer(bytes, image::Limits{});
  if (!info.ok() || info->format != image::Format::kJpeg || info->orientation > 1) {
    return std::nullopt;
  }
  std::unique_ptr<void, TjDeleter> tj(tjInitDecompress());
  if (!tj) return std::nullopt;
  auto* jpeg = reinterpret_cast<unsigned char*>(const_cast<char*>(bytes.data()));
  const auto size = static_cast<unsigned long>(bytes.size());
  int w = 0, h = 0, subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(tj.get(), jpeg, size, &w, &h, &subsamp, &colorspace) != 0 ||
      colorspace != TJCS_YCbCr) {
    return std::nullopt;
  }
  cv::Mat bgr(h, w, CV_8UC3);
  if (tjDecompress2(tj.get(), jpeg, size, bgr.data, w * 3, 0, h, TJPF_BGR, TJFLAG_LIMITSCANS) !=
      0) {
    return std::nullopt;  // warnings included: libvips' own rules apply to damaged files
  }
  return bgr;
}

VImage Load(const fs::path* path, std::string_view bytes, int max_long_edge) {
  if (max_long_edge > 0) {
    auto opts = VImage::option()
                    ->set("height", max_long_edge)
                    ->set("size", VIPS_SIZE_DOWN);
    if (path) return VImage::thumbnail(path->c_str(), max_long_edge, opts);
    VipsBlob* blob = vips_blob_copy(bytes.data(), bytes.size());
    try {
      VImage img = VImage::thumbnail_buffer(blob, max_long_edge, opts);
      vips_area_unref(VIPS_AREA(blob));
      return img;
    } catch (...) {
      vips_area_unref(VIPS_AREA(blob));
      throw;
    }
  }
  VImage img = path ? VImage::new_from_file(path->c_str(),
                                            VImage::option()->set("access", VIPS_ACCESS_SEQUENTIAL))
                    : VImage::new_from_buffer(bytes.data(), bytes.size(), "",
                                              VImage::option()->set("access",
                                                                    VIPS_ACCESS_SEQUENTIAL));
  return img.autorot();
}

Result<cv::Mat> Decode(const fs::path* path, std::string_view bytes, int max_long_edge,
                       bool direct_jpeg) {
  image::InitVips();
  if (path) {
    std::error_code ec;
    if (!fs::is_regular_file(*path, ec)) {
      return NotFoundError("not_found", "no such image file: " + path->string());
    }
  }
  if (max_long_edge <= 0 && direct_jpeg) {
    std::optional<cv::Mat> plain;
    if (path == nullptr) {
      plain = DecodePlainJpeg(bytes);
    } else if (Result<std::string> file = ReadFile(*path); file.ok()) {
      plain = DecodePlainJpeg(*file);
    }
    if (plain) return *std::move(plain);
  }
  try {
    return ToBgr(Load(path, bytes, max_long_edge));
  } catch (const vips::VError& e) {
    return InvalidArgumentError("corrupt_image",
                                std::string("cannot decode image for analysis: ") + BoundedErrorText(e.what()));
  } catch (const cv::Exception& e) {
    return InternalError("analysis_failed", BoundedErrorText(e.what()));
  }
}

std::string Trim(std::string s) {
  auto sp = [](unsigned char c) { return std::isspace(c) != 0 || c == '\0'; };
  while (!s.empty() && sp(static_cast<unsigned char>(s.back()))) s.pop_back();
  size_t i = 0;
  while (i < s.size() && sp(static_cast<unsigned char>(s[i]))) ++i;
  return s.substr(i);
}

std::string GetExifString(const VImage& img, const char* name) {
  if (img.get_typeof(name) == 0) return {};
  return ExifFieldValue(img.get_string(name));
}

bool StartsWithNoCase(std::string_view s, std::string_view prefix) {
  if (prefix.size() > s.size()) return false;
  return std::equal(prefix.begin(), prefix.end(), s.begin(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
}

}  // namespace

Result<cv::Mat> DecodeBgr(const fs::path& path, int max_long_edge, bool direct_jpeg) {
  return Decode(&path, {}, max_long_edge, direct_jpeg);
}

Result<cv::Mat> DecodeBgrBuffer(std::string_view bytes, int max_long_edge) {
  return Decode(nullptr, bytes, max_long_edge, true);
}

std::string ExifFieldValue(std::string_view f) {
  // Strip the trailing "(...)" group, matching parentheses from the end so a
  // value that itself contains "(" survives.
  if (!f.empty() && f.back() == ')') {
    int depth = 0;
    for (size_t i = f.size(); i-- > 0;) {
      if (f[i] == ')') ++depth;
      if (f[i] == '(' && --depth == 0) {
        f = f.substr(0, i);
        break;
      }
    }
  }
  return Trim(std::string(f));
}

Result<image::ExifSummary> ReadExifSummary(const fs::path& path) {
  image::InitVips();
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    return NotFoundError("not_found", "no such image file: " + path.string());
  }
  try {
    // new_from_file reads the header only; pixels stay undecoded.
    VImage img = VImage::new_from_file(path.c_str());
    image::ExifSummary s;
    const std::string make = GetExifString(img, "exif-ifd0-Make");
    const std::string model = GetExifString(img, "exif-ifd0-Model");
    if (make.empty() || StartsWithNoCase(model, make)) {
      s.camera = model;
    } else {
      s.camera = model.empty() ? make : make + " " + model;
    }
    s.captured_at = GetExifString(img, "exif-ifd2-DateTimeOriginal");
    s.gps_present = img.get_typeof("exif-ifd3-GPSLatitude") != 0 ||
                    img.get_typeof("exif-ifd3-GPSLongitude") != 0;
    if (img.get_typeof("orientation") != 0) {
      const int o = img.get_int("orientation");
      s.orientation = (o >= 1 && o <= 8) ? o : 1;
    }
    return s;
  } catch (const vips::VError& e) {
    return InvalidArgumentError("corrupt_image", std::string("cannot read header: ") + BoundedErrorText(e.what()));
  }
}

}  // namespace photo::detect
