// Watermark operations: image + options in, new image or Status out.
//
// Pure functions over libvips images: no files, clock or environment. The
// only bytes they read are the logo bytes the caller hands over.
//
// What a watermark is here: a "mark" (the logo, the text, or the logo with the
// text stacked under it) scaled to a fraction of the rendition's width, so a
// 1280 px and a 2560 px rendition of the same photo look the same, then
// blended OVER the image with an overall opacity, either once at one of nine
// grid positions or tiled diagonally across the whole frame.
//
// Thread-safety: every function may be called from any number of threads at
// once. Decoded logos and rendered/scaled marks are cached per process behind
// a mutex (keyed by logo bytes, text and target size), so a worker that
// watermarks thousands of renditions decodes the logo and renders the text
// once per rendition width, not once per image.
//
// Errors: kInvalidArgument with reason "bad_watermark_options" for options out
// of range, "bad_watermark_logo" for logo bytes that do not decode;
// kInternal "watermark_failed" for an unexpected libvips failure. No exception
// escapes.
#pragma once

#include <string>
#include <string_view>
#include <vector>
#include <vips/vips8>

#include "photo/core/status.h"
#include "photo/image/types.h"
#include "photo/watermark/marking.h"

namespace photo::watermark {

enum class Position {
  kTopLeft,
  kTop,
  kTopRight,
  kLeft,
  kCenter,
  kRight,
  kBottomLeft,
  kBottom,
  kBottomRight,
  kTiled,  // the mark repeated, rotated 30 degrees, on a staggered grid over the whole frame
};

// "top-left", "top", "top-right", "left", "center", "right", "bottom-left",
// "bottom", "bottom-right", "tiled". Parsing is case-insensitive and also
// accepts "centre" and "_" for "-"; anything else is kInvalidArgument.
const char* PositionName(Position p);
Result<Position> ParsePosition(std::string_view name);

struct Options {
  // Plain text (not markup: "<", "&" are drawn as themselves), rendered white
  // in DejaVu Sans Bold with a soft dark shadow so it reads on light and dark
  // photos. Empty = no text.
  std::string text;
  // Encoded logo image (PNG with alpha is the intended input; any format
  // libvips decodes works, missing alpha means opaque). Not owned: must stay
  // valid for the call. Empty = no logo. At least one of text/logo must be set
  // unless opacity is 0.
  std::string_view logo;
  Position position = Position::kBottomRight;
  // Overall opacity 0..1, multiplied into the mark's own alpha. 0 returns the
  // input untouched.
  double opacity = 0.65;
  // Gap between the mark and the image edges, as a fraction of the image
  // width, 0..0.25. For kTiled it is the gap between tiles (at least 1/3 of
  // the mark width is always kept).
  double margin = 0.02;
  // Mark width as a fraction of the image width, (0, 1]. A text-only mark is
  // fitted into (size*W) x (size*W/4) so a short text does not grow taller
  // than the logo would. The mark is shrunk further if it would not fit inside
  // the margins.
  double size = 0.2;
};

// Checks the ranges documented above.
Status Validate(const Options& options);

// Where Apply puts the mark(s) on a width x height image: one box per grid
// position (empty vector when nothing is drawn: opacity 0, or an image too
// small for an 8 px wide mark); for kTiled, a single box covering the whole image.
// Every pixel Apply changes lies inside these boxes.
Result<std::vector<image::Box>> Placement(int width, int height, const Options& options);

// Returns `in` with the watermark blended over it. The output has the same
// size, band count (alpha is kept) and 8-bit sRGB format; inputs that are not
// 8-bit sRGB (grey, 16-bit, CMYK) are converted to it first. For grid
// positions only the mark's patch is blended (crop, composite, insert): the
// rest of the frame is the input's pixels, bit for bit, and the cost does not
// grow with the frame. The returned image is lazy like any VImage; it keeps
// `in` alive.
Result<vips::VImage> Apply(const vips::VImage& in, const Options& options);

// An encoded, watermarked rendition.
struct Encoded {
  std::string bytes;
  int width = 0;
  int height = 0;
};

// Marks a JPEG in the DCT domain (image::EditJpegRegion): only the 8x8 blocks
// under the mark are decoded, blended (exactly as Apply blends) and
// re-encoded with the file's own quantisation tables; every other block keeps
// its coefficients, so nothing outside the mark loses a generation and the
// rest of the file costs entropy decoding and encoding only. The quality is
// therefore the input's. Grid positions only. Metadata is dropped.
// `optimize_coding`: Huffman tables computed for the output (an extra
// entropy pass) instead of the standard ones; see kOptimizeJpegCoding.
// Errors: kInvalidArgument "unsupported_jpeg" for kTiled or a JPEG that
// image::EditableJpegLayout refuses (callers then take ApplyToEncoded's pixel
// path); "corrupt_image" when the data does not decode; Apply's errors.
Result<Encoded> ApplyToJpegBlocks(std::string_view jpeg, const Options& options,
                                  bool optimize_coding);

// Decodes `encoded` (a clean rendition: JPEG, PNG, WebP or AVIF), applies
// Apply(options) and encodes the result as `format` at `quality` (1..100;
// ignored for PNG) with all metadata stripped. With opacity 0 the pixels are
// still re-encoded, so the output format is always `format`.
// A JPEG input with JPEG output at a grid position takes ApplyToJpegBlocks
// instead, as `marking` says (its quality is the input's: the resize stage
// writes the clean file at the spec's quality). The default was chosen from
// measured size and CPU (docs/stages/watermark.md); the others stay for
// benchmarks.
// Errors: kInvalidArgument "corrupt_image" when `encoded` does not decode,
// "bad_watermark_options" for a bad quality; Apply's errors; kInternal
// "encode_failed" when libvips cannot encode.
Result<Encoded> ApplyToEncoded(std::string_view encoded, image::OutputFormat format, int quality,
                               const Options& options,
                               JpegMarking marking = JpegMarking::kBlocks);

// The built-in default logo (data/watermark/logo.png, embedded into the
// binary at build time): an RGBA PNG, always non-empty.
std::string_view DefaultLogoPng();

// Drops every cached logo and mark (tests and benchmarks measure cold paths
// with it; production never needs it).
void ClearCaches();

}  // namespace photo::watermark
