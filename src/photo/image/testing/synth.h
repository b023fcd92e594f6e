// Test-only image synthesis: encoded images made in-process with libvips, so
// tests never depend on files outside the repository or on the network.
//
// Everything is deterministic: the same arguments give the same bytes (noise
// uses a fixed seed), so golden comparisons and size assertions are stable.
// Functions throw nothing; they abort the test process on an internal libvips
// failure (a broken test fixture is a bug, not an input to handle).
// Thread-safe after photo::image::InitVips() (which every function calls).
#pragma once

#include <cstdint>
#include <string>

namespace photo::image::testing {

enum class SynthFormat { kJpeg, kPng, kWebp, kTiff, kGif, kHeif, kAvif };

struct SynthOptions {
  int width = 640;
  int height = 480;
  SynthFormat format = SynthFormat::kJpeg;
  int quality = 90;        // lossy formats
  bool subsample = true;   // JPEG 4:2:0 (phones do; vips would pick 4:4:4 at Q>=90)
  double noise_sigma = 6;  // camera-like grain; 0 = smooth
  // JPEG only: EXIF tags written into the file.
  int orientation = 0;     // 1..8 writes the Orientation tag; 0 = none
  bool gps = false;        // GPSLatitude/Longitude(+Ref) = 48°51'29.6"N 2°17'40.2"E
  bool camera = false;     // Make "PhotoTest", Model "Synth 1", DateTimeOriginal "2021:06:05 04:03:02"
};

// A photo-like image: colour gradients, a few filled shapes and grain.
std::string MakePhoto(const SynthOptions& options = {});

// A JPEG whose DISPLAYED image (after applying EXIF `orientation` 1..8) is
// display_width x display_height with a pure red (255,0,0) square of side
// min(w,h)/4 in the top-left corner and a pure green (0,255,0) square of the
// same size in the top-right corner, on a mid-grey (128) background. The
// stored pixels are transformed so that only a correct auto-rotation puts the
// markers back there; the two markers make all 8 orientations distinct.
std::string MakeOrientedJpeg(int orientation, int display_width = 400,
                             int display_height = 300);
// Centre of the red / green marker squares in display coordinates, for tests.
struct MarkerLayout {
  int side;
  int red_cx, red_cy;
  int green_cx, green_cy;
};
MarkerLayout MarkersFor(int display_width, int display_height);

// JPEG with GPS EXIF tags (and camera tags); equals
// MakePhoto({.width=w, .height=h, .gps=true, .camera=true}).
std::string MakeJpegWithGps(int width = 640, int height = 480);

// 4-band CMYK JPEG carrying libvips' built-in CMYK ICC profile.
std::string MakeCmykJpeg(int width = 640, int height = 480);
// 16-bit PNG: rgb16 (3 bands) or grey16 (1 band).
std::string MakePng16(int width = 640, int height = 480, bool grey = false);
// 1-band 8-bit greyscale JPEG.
std::string MakeGreyJpeg(int width = 640, int height = 480);
// RGBA PNG (or WebP when `webp`): the left half is fully transparent, the
// right half opaque photo; a semi-transparent band runs across the middle.
std::string MakeRgbaPng(int width = 640, int height = 480);
std::string MakeRgbaWebp(int width = 640, int height = 480);
// GIF with `frames` frames of width x height (each a different colour).
std::string MakeAnimatedGif(int width = 64, int height = 48, int frames = 3);

// --- Hostile inputs ---------------------------------------------------------
std::string EmptyBytes();
std::string TextBytes();  // plain ASCII prose
// The first `keep_fraction` of a valid JPEG (default: half; no EOI marker).
std::string TruncatedJpeg(double keep_fraction = 0.5);
// A PNG signature + a valid IHDR declaring width x height (CRC correct), then
// IEND with no IDAT: a decompression-bomb header.
std::string PngHeaderOnly(std::uint32_t width = 1'000'000, std::uint32_t height = 1'000'000);
std::string SvgBytes();       // a small SVG document with a <script>
std::string PdfBytes();       // a minimal PDF header and body
// A valid JPEG followed by an HTML document and a valid (stored) ZIP archive
// with one file. Opens as a JPEG, as an HTML page (sniffing browsers) and as
// a ZIP (central directory at the end).
std::string PolyglotJpegHtmlZip();
// The trailing HTML marker used by PolyglotJpegHtmlZip, for "not present in
// output" checks.
inline constexpr const char* kPolyglotMarker = "<script>alert('polyglot')</script>";

// Minimal standard CRC-32 (zlib/PNG polynomial), exposed for fixture building.
std::uint32_t Crc32(const std::string& bytes);

}  // namespace photo::image::testing
