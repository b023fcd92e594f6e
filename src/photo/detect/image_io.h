// The detect module's two reads through libvips: decoded pixels for analysis
// (as an OpenCV BGR matrix, without linking OpenCV's imgcodecs, which drags in
// GDAL) and the EXIF facts of an original, read from its header alone.
//
// Thread-safe. Every function calls photo::image::InitVips() first.
#pragma once

#include <filesystem>
#include <string_view>

#include <opencv2/core.hpp>

#include "photo/core/status.h"
#include "photo/image/types.h"

namespace photo::detect {

// Decodes `path` (any format libvips loads) into an 8-bit 3-channel BGR
// matrix: EXIF orientation applied, converted to sRGB, alpha flattened onto
// white, first frame only. With max_long_edge > 0 the image is shrunk (never
// enlarged) so its long edge is at most that, the way the resize stage makes
// a rendition. Errors: NotFound("not_found") for a missing file,
// InvalidArgument("corrupt_image") when libvips cannot decode it.
// At full size (max_long_edge <= 0) a JPEG without an EXIF orientation is
// decoded by libjpeg-turbo directly, to the same pixels as libvips' (about
// half the CPU); `direct_jpeg` = false forces libvips (benchmarks' "before").
Result<cv::Mat> DecodeBgr(const std::filesystem::path& path, int max_long_edge = 0,
                          bool direct_jpeg = true);
// The same from encoded bytes in memory.
Result<cv::Mat> DecodeBgrBuffer(std::string_view bytes, int max_long_edge = 0);

// EXIF facts from the header of `path` (pixels are not decoded, so this is
// cheap even for a 100 MP original). Absent tags leave the field empty / 1 /
// false; a file without EXIF at all is not an error. camera is "Make Model",
// with Make left out when Model already starts with it ("Canon Canon EOS 5D"
// would say nothing more). Errors: NotFound for a missing file,
// InvalidArgument("corrupt_image") when libvips cannot read the header.
Result<image::ExifSummary> ReadExifSummary(const std::filesystem::path& path);

// libvips formats an EXIF string field as "<value> (<shown>, <type>, <n>
// components, <m> bytes)"; returns <value>, trimmed. Exposed for tests.
std::string ExifFieldValue(std::string_view vips_field);

}  // namespace photo::detect
