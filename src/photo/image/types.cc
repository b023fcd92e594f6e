#include "photo/image/types.h"

namespace photo::image {

const char* FormatName(Format f) {
  switch (f) {
    case Format::kJpeg: return "jpeg";
    case Format::kPng: return "png";
    case Format::kWebp: return "webp";
    case Format::kGif: return "gif";
    case Format::kTiff: return "tiff";
    case Format::kHeif: return "heif";
    case Format::kAvif: return "avif";
  }
  return "unknown";
}

const char* MimeType(Format f) {
  switch (f) {
    case Format::kJpeg: return "image/jpeg";
    case Format::kPng: return "image/png";
    case Format::kWebp: return "image/webp";
    case Format::kGif: return "image/gif";
    case Format::kTiff: return "image/tiff";
    case Format::kHeif: return "image/heif";
    case Format::kAvif: return "image/avif";
  }
  return "application/octet-stream";
}

const char* OutputFormatName(OutputFormat f) {
  switch (f) {
    case OutputFormat::kJpeg: return "jpeg";
    case OutputFormat::kWebp: return "webp";
    case OutputFormat::kAvif: return "avif";
    case OutputFormat::kPng: return "png";
  }
  return "jpeg";
}

const char* OutputMimeType(OutputFormat f) {
  switch (f) {
    case OutputFormat::kJpeg: return "image/jpeg";
    case OutputFormat::kWebp: return "image/webp";
    case OutputFormat::kAvif: return "image/avif";
    case OutputFormat::kPng: return "image/png";
  }
  return "image/jpeg";
}

const char* OutputExtension(OutputFormat f) {
  switch (f) {
    case OutputFormat::kJpeg: return ".jpg";
    case OutputFormat::kWebp: return ".webp";
    case OutputFormat::kAvif: return ".avif";
    case OutputFormat::kPng: return ".png";
  }
  return ".jpg";
}

std::vector<RenditionSpec> DefaultRenditions() {
  return {
      {"thumb", 320, OutputFormat::kJpeg, 80, false},
      {"medium", 1280, OutputFormat::kJpeg, 82, true},
      {"large", 2560, OutputFormat::kJpeg, 85, true},
  };
}

}  // namespace photo::image
