#include "photo/image/probe.h"

#include <vips/vips8>

#include <algorithm>
#include <cstring>
#include <string>
#include <system_error>

#include "photo/core/files.h"
#include "photo/image/load.h"
#include "photo/image/vips.h"

namespace photo::image {
namespace {

std::uint32_t Be16(std::string_view b, size_t at) {
  return (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at])) << 8) |
         static_cast<unsigned char>(b[at + 1]);
}
std::uint32_t Be32(std::string_view b, size_t at) { return (Be16(b, at) << 16) | Be16(b, at + 2); }
std::uint32_t Le16(std::string_view b, size_t at) {
  return static_cast<unsigned char>(b[at]) |
         (static_cast<std::uint32_t>(static_cast<unsigned char>(b[at + 1])) << 8);
}
std::uint32_t Le32(std::string_view b, size_t at) { return Le16(b, at) | (Le16(b, at + 2) << 16); }

Status Corrupt(std::string message) { return InvalidArgumentError("corrupt_image", std::move(message)); }

// What a cheap structural walk of the container found (no pixel data read).
struct Structure {
  std::uint64_t width = 0;   // 0 = not known from this walk
  std::uint64_t height = 0;
  std::uint64_t trailing_bytes = 0;
};

// Walks JPEG segments up to the first SOS, reading the SOF size into `s`;
// returns the offset just past the SOS segment.
Result<size_t> WalkJpegHeader(std::string_view b, Structure& s) {
  size_t pos = 2;
  bool have_sof = false;
  for (;;) {
    while (pos < b.size() && static_cast<unsigned char>(b[pos]) == 0xff &&
           pos + 1 < b.size() && static_cast<unsigned char>(b[pos + 1]) == 0xff) {
      ++pos;  // fill bytes
    }
    if (pos + 4 > b.size()) return Corrupt("jpeg: truncated before the first scan");
    if (static_cast<unsigned char>(b[pos]) != 0xff) return Corrupt("jpeg: bad marker");
    unsigned marker = static_cast<unsigned char>(b[pos + 1]);
    if (marker == 0x01 || (marker >= 0xd0 && marker <= 0xd8)) {
      pos += 2;
      continue;
    }
    if (marker == 0xd9) return Corrupt("jpeg: end of image before any scan");
    std::uint32_t len = Be16(b, pos + 2);
    if (len < 2 || pos + 2 + len > b.size()) return Corrupt("jpeg: truncated segment");
    bool sof = marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 &&
               marker != 0xcc;
    if (sof) {
      if (len < 8) return Corrupt("jpeg: short frame header");
      s.height = Be16(b, pos + 5);
      s.width = Be16(b, pos + 7);
      have_sof = true;
    }
    pos += 2 + len;
    if (marker == 0xda) break;
  }
  if (!have_sof) return Corrupt("jpeg: scan without a frame header");
  return pos;
}

// The header walk, then the EOI marker. Entropy-coded data escapes 0xFF as
// FF00, so the first FF D9 after the scan starts is the real end of the image
// (RSTn are FF D0-D7).
Result<Structure> WalkJpeg(std::string_view b) {
  Structure s;
  ASSIGN_OR_RETURN(const size_t pos, WalkJpegHeader(b, s));
  for (size_t i = pos; i + 1 < b.size(); ++i) {
    const void* hit = std::memchr(b.data() + i, 0xff, b.size() - i - 1);
    if (hit == nullptr) break;
    i = static_cast<size_t>(static_cast<const char*>(hit) - b.data());
    if (static_cast<unsigned char>(b[i + 1]) == 0xd9) {
      s.trailing_bytes = b.size() - (i + 2);
      return s;
    }
  }
  return Corrupt("jpeg: truncated (no end-of-image marker)");
}

// PNG: IHDR first (size), then every chunk must fit; needs IDAT and IEND.
Result<Structure> WalkPngHeader(std::string_view b) {
  Structure s;
  if (b.size() < 8 + 8 + 13 || Be32(b, 8) != 13 || b.substr(12, 4) != "IHDR") {
    return Corrupt("png: missing IHDR");
  }
  s.width = Be32(b, 16);
  s.height = Be32(b, 20);
  return s;
}

Status WalkPngChunks(std::string_view b, Structure& s) {
  size_t pos = 8;
  bool idat = false;
  while (pos + 12 <= b.size()) {
    std::uint64_t len = Be32(b, pos);
    std::string_view type = b.substr(pos + 4, 4);
    if (pos + 12 + len > b.size()) return Corrupt("png: truncated chunk");
    if (type == "IDAT") idat = true;
    pos += 12 + len;
    if (type == "IEND") {
      if (!idat) return Corrupt("png: no image data (IDAT)");
      s.trailing_bytes = b.size() - pos;
      return Status::Ok();
    }
  }
  return Corrupt("png: truncated (no IEND)");
}

Status CheckDimensions(std::uint64_t w, std::uint64_t h, const Limits& limits) {
  if (w == 0 || h == 0) return Corrupt("zero width or height");
  if (w > static_cast<std::uint64_t>(limits.max_dimension) ||
      h > static_cast<std::uint64_t>(limits.max_dimension)) {
    return ResourceExhaustedError("too_many_pixels",
                                  std::to_string(w) + "x" + std::to_string(h) +
                                      " exceeds the maximum side of " +
                                      std::to_string(limits.max_dimension) + " px");
  }
  if (w * h > limits.max_pixels) {
    return ResourceExhaustedError("too_many_pixels",
                                  std::to_string(w) + "x" + std::to_string(h) + " exceeds " +
                                      std::to_string(limits.max_pixels) + " pixels");
  }
  return Status::Ok();
}

// Structure and size from the bytes alone, before libvips sees them.
Result<Structure> PreParse(Format format, std::string_view b, const Limits& limits) {
  Structure s;
  switch (format) {
    case Format::kJpeg: {
      ASSIGN_OR_RETURN(s, WalkJpeg(b));
      RETURN_IF_ERROR(CheckDimensions(s.width, std::max<std::uint64_t>(s.height, 1), limits));
      break;
    }
    case Format::kPng: {
      ASSIGN_OR_RETURN(s, WalkPngHeader(b));
      // Limits first: a bomb header is "too big", whatever follows it.
      RETURN_IF_ERROR(CheckDimensions(s.width, s.height, limits));
      RETURN_IF_ERROR(WalkPngChunks(b, s));
      break;
    }
    case Format::kGif: {
      if (b.size() < 13) return Corrupt("gif: truncated header");
      s.width = Le16(b, 6);
      s.height = Le16(b, 8);
      RETURN_IF_ERROR(CheckDimensions(s.width, s.height, limits));
      break;
    }
    case Format::kWebp: {
      std::uint64_t riff = Le32(b, 4);
      if (riff + 8 > b.size()) return Corrupt("webp: truncated (shorter than its RIFF size)");
      s.trailing_bytes = b.size() - (riff + 8);
      break;
    }
    case Format::kTiff:
    case Format::kHeif:
    case Format::kAvif:
      break;  // libvips' header read is the structural check
  }
  return s;
}

bool HasBrand(std::string_view b, std::string_view brand) {
  // ftyp box: size(4) "ftyp" major(4) minor(4) compatible(4)*
  std::uint32_t box = Be32(b, 0);
  size_t end = std::min<size_t>({b.size(), box, 64});
  if (b.substr(8, 4) == brand) return true;
  for (size_t at = 16; at + 4 <= end; at += 4) {
    if (b.substr(at, 4) == brand) return true;
  }
  return false;
}

}  // namespace

std::optional<Format> SniffFormat(std::string_view b) {
  auto starts = [&](std::string_view magic) { return b.substr(0, magic.size()) == magic; };
  if (b.size() >= 3 && starts("\xff\xd8\xff")) return Format::kJpeg;
  if (starts(std::string_view("\x89PNG\r\n\x1a\n", 8))) return Format::kPng;
  if (starts("GIF87a") || starts("GIF89a")) return Format::kGif;
  if (b.size() >= 12 && starts("RIFF") && b.substr(8, 4) == "WEBP") return Format::kWebp;
  if (starts(std::string_view("II*\0", 4)) || starts(std::string_view("MM\0*", 4))) {
    return Format::kTiff;
  }
  if (b.size() >= 16 && b.substr(4, 4) == "ftyp") {
    if (HasBrand(b, "avif") || HasBrand(b, "avis")) return Format::kAvif;
    for (std::string_view brand : {"heic", "heix", "heim", "heis", "mif1", "msf1"}) {
      if (HasBrand(b, brand)) return Format::kHeif;
    }
  }
  return std::nullopt;
}

std::optional<std::size_t> JpegHeaderEnd(std::string_view head) {
  if (SniffFormat(head) != Format::kJpeg) return std::nullopt;
  Structure ignored;
  auto end = WalkJpegHeader(head, ignored);
  if (!end.ok()) return std::nullopt;
  return *end;
}

Result<ProbeInfo> ProbeBuffer(std::string_view bytes, const Limits& limits) {
  if (bytes.empty()) return InvalidArgumentError("empty_file", "the upload has zero bytes");
  if (bytes.size() > limits.max_bytes) {
    return ResourceExhaustedError("too_large", std::to_string(bytes.size()) +
                                                   " bytes exceeds the limit of " +
                                                   std::to_string(limits.max_bytes));
  }
  std::optional<Format> format = SniffFormat(bytes.substr(0, 64));
  if (!format) {
    return InvalidArgumentError("unsupported_media_type",
                                "not a JPEG, PNG, WebP, GIF, TIFF, HEIF or AVIF image");
  }
  ASSIGN_OR_RETURN(Structure structure, PreParse(*format, bytes, limits));

  InitVips();
  ProbeInfo info;
  info.format = *format;
  info.bytes = bytes.size();
  info.trailing_bytes = structure.trailing_bytes;
  // libvips' error buffer is process-wide and cumulative (even a load that
  // succeeds can leave text in it): start clean so that a refusal's message
  // is about this input, not earlier ones (other clients' uploads).
  vips_error_clear();
  try {
    // Header only: loaders are lazy, and no pixel is requested below.
    vips::VImage header = internal::LoadBuffer(
        *format, bytes, vips::VImage::option()->set("access", VIPS_ACCESS_SEQUENTIAL));
    info.width = header.width();
    info.height = header.height();
    // Multi-page loaders report one page's height only when asked for one
    // page (the default), so width/height are the first frame's.
    if (header.get_typeof(VIPS_META_N_PAGES) != 0) info.frames = header.get_int(VIPS_META_N_PAGES);
    if (header.get_typeof(VIPS_META_ORIENTATION) != 0) {
      int o = header.get_int(VIPS_META_ORIENTATION);
      info.orientation = (o >= 1 && o <= 8) ? o : 1;
    }
    info.bands = header.bands();
    info.interpretation = internal::InterpretationName(header.interpretation());
    info.has_alpha = header.has_alpha();
    info.has_icc = header.get_typeof(VIPS_META_ICC_NAME) != 0;
  } catch (const vips::VError& e) {
    return Corrupt(std::string(FormatName(*format)) +
                   " header unreadable: " + internal::VipsErrorText(e));
  }
  RETURN_IF_ERROR(CheckDimensions(static_cast<std::uint64_t>(info.width),
                                  static_cast<std::uint64_t>(info.height), limits));
  if (info.frames < 1) info.frames = 1;
  if (info.frames > limits.max_frames) {
    return ResourceExhaustedError("too_many_frames", std::to_string(info.frames) +
                                                         " frames exceeds the limit of " +
                                                         std::to_string(limits.max_frames));
  }
  return info;
}

Result<ProbeInfo> ProbeFile(const std::filesystem::path& path, const Limits& limits) {
  std::error_code ec;
  auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) {
    return NotFoundError("not_found", "no such file: " + path.string());
  }
  if (!std::filesystem::is_regular_file(status)) {
    return InvalidArgumentError("unsupported_media_type", "not a regular file: " + path.string());
  }
  std::uintmax_t size = std::filesystem::file_size(path, ec);
  if (ec) return UnavailableError("io_error", "stat " + path.string() + ": " + ec.message());
  if (size == 0) return InvalidArgumentError("empty_file", "the file has zero bytes");
  if (size > limits.max_bytes) {
    return ResourceExhaustedError("too_large", std::to_string(size) +
                                                   " bytes exceeds the limit of " +
                                                   std::to_string(limits.max_bytes));
  }
  Result<std::string> bytes = ReadFile(path);
  if (!bytes) return UnavailableError("io_error", bytes.error().message());
  return ProbeBuffer(*bytes, limits);
}

}  // namespace photo::image
