// Editing a small region of a JPEG without re-encoding the rest of it.
//
// A JPEG is a grid of 8x8 blocks of quantised DCT coefficients. To change a
// corner (a watermark), EditJpegRegion reads the coefficients
// (jpeg_read_coefficients), decodes only the MCU-aligned region around the
// box, lets the caller change pixels inside the box, re-encodes that region
// with the file's own quantisation tables and sampling, puts back the blocks
// whose pixels changed, and writes every other block's coefficients as they
// were (jpeg_write_coefficients). The rest of the image pays entropy
// decoding and encoding only: no IDCT, colour conversion, DCT or
// quantisation, and no second generation of loss.
//
// Pure: bytes in, bytes out. Thread-safe. Uses libjpeg-turbo's libjpeg API.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "photo/core/status.h"
#include "photo/image/types.h"

namespace photo::image {

// Packed 8-bit RGB pixels of the decoded region; (x, y) is the region's
// top-left corner in the image.
struct RgbRegion {
  int x = 0, y = 0, width = 0, height = 0;
  std::uint8_t* pixels = nullptr;  // width * 3 bytes per row, height rows
};

struct RegionEditOptions {
  // Compute Huffman tables for the output (a second entropy pass over every
  // block) instead of the standard ones. docs/stages/watermark.md has the
  // measured size and CPU of both.
  bool optimize_coding = false;
};

// The facts EditJpegRegion needs about a JPEG, from its header only.
struct JpegLayout {
  int width = 0, height = 0;
  int components = 0;
  int mcu_width = 8, mcu_height = 8;  // in pixels: 16x16 for 4:2:0
};
// nullopt when EditJpegRegion cannot take this JPEG (not 8-bit, not YCbCr
// with 3 components, arithmetic coded, or not a JPEG at all): callers fall
// back to decoding and encoding pixels.
std::optional<JpegLayout> EditableJpegLayout(std::string_view jpeg);

// A baseline JPEG of packed 8-bit RGB pixels with a restart marker after
// every MCU row and the standard Huffman tables (chroma 4:2:0 below Q90 and
// the accurate integer DCT, as libvips' jpegsave; no metadata). For
// such a file EditJpegRegion decodes and re-encodes only the MCU rows under
// the box and copies every other row's entropy-coded bytes as they are.
// Throws std::runtime_error on failure.
std::string EncodeJpegRowRestarts(const std::uint8_t* rgb, int width, int height, int quality);

// Decodes the MCU-aligned region around `box` (plus one MCU of context on
// each side, so chroma upsampling sees the same neighbours as a full decode),
// calls `edit` on it, and returns the JPEG with every block whose pixels the
// edit changed re-encoded; all other blocks keep their coefficients bit for
// bit. `edit` may change only pixels inside `box`. No metadata (APPn/COM
// markers) is copied. The output is baseline sequential, with the input's
// restart interval.
//
// A file made by EncodeJpegRowRestarts (restart marker after every MCU row,
// standard Huffman tables), edited without optimize_coding, takes a shorter
// path with the same result: only the MCU rows around the box (a strip) are
// entropy-decoded, edited as above and encoded again, and the other rows'
// entropy-coded segments are copied byte for byte.
// Errors: kInvalidArgument "corrupt_image" when the data does not decode
// (including libjpeg warnings: truncated or damaged entropy data);
// kInvalidArgument "unsupported_jpeg" when EditableJpegLayout is nullopt;
// kInvalidArgument "bad_region" when box is empty or outside the image;
// whatever `edit` returns.
Result<std::string> EditJpegRegion(std::string_view jpeg, const Box& box,
                                   const std::function<Status(const RgbRegion&)>& edit,
                                   const RegionEditOptions& options = {});

}  // namespace photo::image
