// Plain value types shared by the image operations and the stages that run
// them. No libvips/OpenCV types here: callers outside image/ (store, worker,
// http) read these without pulling in the image libraries.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace photo::image {

// Input formats, decided from the bytes (magic numbers), never the name.
enum class Format { kJpeg, kPng, kWebp, kGif, kTiff, kHeif, kAvif };
const char* FormatName(Format f);  // "jpeg", "png", "webp", "gif", "tiff", "heif", "avif"
const char* MimeType(Format f);    // "image/jpeg", ...

// Limits enforced before any pixel is decoded.
struct Limits {
  std::uint64_t max_bytes = 50ull * 1024 * 1024;  // PHOTO_PIPELINE_MAX_BYTES
  std::uint64_t max_pixels = 100'000'000;         // PHOTO_PIPELINE_MAX_PIXELS (per frame)
  int max_frames = 100;                           // PHOTO_PIPELINE_MAX_FRAMES
  int max_dimension = 65'535;                     // either side, in pixels
};

// Facts read from the header only.
struct ProbeInfo {
  Format format = Format::kJpeg;
  int width = 0;   // stored width, before EXIF orientation
  int height = 0;  // stored height, before EXIF orientation
  int orientation = 1;  // EXIF orientation 1..8 (1 when absent)
  int frames = 1;
  int bands = 0;
  std::string interpretation;  // libvips' name: "srgb", "cmyk", "b-w", "rgb16", "grey16", ...
  bool has_alpha = false;
  bool has_icc = false;
  std::uint64_t bytes = 0;
  // Bytes after the end of the image stream (JPEG EOI / PNG IEND): appended
  // data such as a ZIP or HTML polyglot, or a camera trailer. Never copied
  // into a rendition (renditions are re-encoded from pixels); 0 when unknown.
  std::uint64_t trailing_bytes = 0;
  // Width/height as displayed (after orientation 5..8 swap the axes).
  int display_width() const { return orientation >= 5 ? height : width; }
  int display_height() const { return orientation >= 5 ? width : height; }
};

// Output encodings for renditions.
enum class OutputFormat { kJpeg, kWebp, kAvif, kPng };
const char* OutputFormatName(OutputFormat f);  // "jpeg", "webp", "avif", "png"
const char* OutputMimeType(OutputFormat f);
const char* OutputExtension(OutputFormat f);   // ".jpg", ".webp", ".avif", ".png"

struct RenditionSpec {
  std::string name;       // "thumb", "medium", "large"; [a-z0-9_-]+, not "original"
  int long_edge = 0;      // target long edge in px; never upscaled
  OutputFormat format = OutputFormat::kJpeg;
  int quality = 82;       // 1..100
  bool watermark = false; // does the watermark stage apply to it
  // A face-aware crop to exactly crop_width x crop_height ("name:WxH:...:crop"),
  // made by the detect stage, which has the face boxes; 0 = an ordinary
  // long-edge rendition (made by the resize stage).
  int crop_width = 0;
  int crop_height = 0;
  bool is_crop() const { return crop_width > 0 && crop_height > 0; }
};

// The default set: thumb 320, medium 1280, large 2560; watermark on medium
// and large.
std::vector<RenditionSpec> DefaultRenditions();

// Where a face-aware crop rendition was cut, in the pixels of the analysed
// image (Detections::analysed_width x analysed_height, the face boxes' frame).
struct CropBox {
  std::string rendition;  // the crop rendition's name
  int x = 0, y = 0, width = 0, height = 0;
  std::string method;  // "faces" (kept the detected faces) or "attention" (none: libvips smartcrop)
  int faces = 0;       // faces kept in frame (of Detections::face_count)
  bool operator==(const CropBox&) const = default;
};

// One written rendition.
struct Rendition {
  std::string name;
  std::string path;  // absolute or data-dir-relative path of the file
  int width = 0;
  int height = 0;
  std::uint64_t bytes = 0;
  OutputFormat format = OutputFormat::kJpeg;
  bool watermarked = false;
};

struct Box {
  int x = 0, y = 0, width = 0, height = 0;
  float score = 0.f;
};

struct ExifSummary {
  std::string camera;        // "Make Model", empty when absent
  std::string captured_at;   // EXIF DateTimeOriginal as written ("2019:03:04 10:11:12"), empty when absent
  bool gps_present = false;  // the original carried GPS tags (they never reach a rendition)
  int orientation = 1;
};

struct ColorShare {
  std::string hex;  // "#a1b2c3"
  double share = 0; // fraction of pixels, 0..1
};

struct Label {
  std::string label;
  double score = 0;
};

// An earlier image whose perceptual hash is within the duplicate distance.
struct Duplicate {
  std::string id;
  int distance = 0;  // Hamming distance of the 64-bit pHashes
  bool operator==(const Duplicate&) const = default;
};

// What the detect stage found.
struct Detections {
  int face_count = 0;
  std::vector<Box> faces;       // in the coordinates of the analysed image
  int analysed_width = 0;       // size of the image the boxes refer to
  int analysed_height = 0;
  std::string face_model;       // e.g. "blazeface-back-256"
  std::uint64_t phash = 0;      // 64-bit perceptual hash
  double sharpness = 0;         // variance of the Laplacian; low = blurry
  bool blurry = false;
  std::vector<ColorShare> dominant_colors;
  ExifSummary exif;
  std::vector<Label> labels;    // classifier output (empty without a model)
  std::string content_status;   // "safe" | "review" | "unknown"
  std::vector<std::string> reasons;      // why "review"
  std::vector<std::string> checks_ran;   // e.g. {"faces", "phash", "sharpness", "classifier"}
  // Earlier images that look the same (near-duplicates), nearest first. Filled
  // by the worker against the store's hash index, not by the pixel checks.
  std::vector<Duplicate> duplicates;
  // One per face-aware crop rendition the detect stage made.
  std::vector<CropBox> crops;
};

}  // namespace photo::image
