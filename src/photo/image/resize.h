// Renditions from an encoded original: decode once, derive every size, encode.
//
// Pure: bytes in, bytes out; no files, clock or globals (besides libvips'
// process setup, InitVips). Thread-safe: any number of calls may run at once.
//
// What every rendition gets (docs/stages/resize.md has the reasons):
//  - long edge = spec.long_edge, aspect ratio kept (each side rounded), and
//    never upscaled: a source smaller than the target keeps its size;
//  - EXIF orientation applied (the pixels are upright, no Orientation tag);
//  - 8-bit sRGB: CMYK, 16-bit, greyscale and ICC-tagged inputs are converted
//    (ICC profiles through lcms; CMYK without a profile through libvips'
//    built-in CMYK profile);
//  - alpha kept for WebP/AVIF/PNG, flattened onto white for JPEG;
//  - no metadata at all (no EXIF/GPS, XMP, IPTC or ICC; sRGB is implied);
//  - animated inputs: the first frame only.
//
// Decoding happens once, at the smallest scale that still serves the largest
// rendition: JPEG via libjpeg-turbo's DCT scaling (1/2, 1/4, 1/8), WebP via
// the loader's `scale`, others at full size and streamed through libvips'
// resampler; the JPEG residual to the exact size is bilinear below 1.6x and
// bilinear-to-2x + 2x area filter from 1.6x to 2x. Smaller renditions are
// derived from the next larger one in memory with an area filter (OpenCV
// INTER_AREA).
#pragma once

#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "photo/core/status.h"
#include "photo/image/types.h"

namespace photo::image {

struct EncodedRendition {
  std::string name;
  OutputFormat format = OutputFormat::kJpeg;
  int width = 0;
  int height = 0;
  std::string bytes;  // the encoded file
};

struct RenditionSet {
  ProbeInfo source;                          // the probe of the input
  std::vector<EncodedRendition> renditions;  // one per spec, in spec order
};

// Probes `bytes` against `limits` (probe.h errors pass through unchanged),
// then decodes once and encodes one rendition per spec. `specs` must be valid
// (ValidateRenditionSpecs). Errors besides the probe's: corrupt_image
// (kInvalidArgument) when decoding fails (truncated or damaged data), and
// internal (kInternal) for an encoder failure or out of memory.
//
// A rendition whose size, format and watermark flag equal those of a larger
// one (the source is smaller than both targets) gets that one's bytes when
// its quality is at least as high: the pixels are the same, so one encode
// serves both.
struct MakeOptions {
  // The watermark stage decodes and re-encodes every spec.watermark
  // rendition, so those are encoded with EncodeEffort::kIntermediate (same
  // pixels, no Huffman-optimisation pass). Leave false when the bytes are
  // published as they are (watermarking disabled).
  bool watermark_inputs_are_intermediate = false;
  // Those JPEG inputs get a restart marker after every MCU row
  // (EncodeJpegRowRestarts), so the watermark stage re-encodes only the rows
  // under the mark and copies the others' bytes. Code only: false (plain
  // tjCompress2) stays for the benchmarks' "before".
  bool jpeg_row_restarts = true;
  // The JPEG path's residual resize between 1.6x and 2x: bilinear to twice
  // the target, then an exact 2x area filter (as close to lanczos3 as the
  // plain area filter, ~55 % of its CPU). Code only: false (the plain,
  // fractional area filter) stays for the benchmarks' "before".
  bool upsampled_area = true;
};
Result<RenditionSet> MakeRenditions(std::string_view bytes,
                                    std::span<const RenditionSpec> specs,
                                    const Limits& limits, const MakeOptions& options = {});

// Checks names ([a-z0-9_-]+, unique, not "original"), long_edge (16..16384)
// and quality (1..100). reason: invalid_config.
Status ValidateRenditionSpecs(std::span<const RenditionSpec> specs);

// Size of a rendition with long edge `long_edge` of a (display) width x
// height image: aspect kept, never upscaled, each side at least 1.
struct Size {
  int width = 0;
  int height = 0;
};
Size FitLongEdge(int width, int height, int long_edge);

}  // namespace photo::image
