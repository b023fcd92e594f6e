#include "photo/pipeline/resize_stage.h"

#include <algorithm>
#include <cerrno>
#include <optional>
#include <cstdlib>
#include <limits>
#include <sstream>
#include <system_error>

#include "photo/core/files.h"
#include "photo/core/ids.h"
#include "photo/core/text.h"
#include "photo/image/resize.h"

namespace photo::pipeline {
namespace {

Status BadConfig(std::string message) {
  return InvalidArgumentError("invalid_config", std::move(message));
}

Result<std::uint64_t> ParseUnsigned(const char* name, const std::string& text) {
  if (text.empty() || text.find_first_not_of("0123456789") != std::string::npos) {
    return BadConfig(std::string(name) + ": expected a positive integer, got '" + text + "'");
  }
  errno = 0;
  unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
  if (errno != 0 || v == 0) {
    return BadConfig(std::string(name) + ": expected a positive integer, got '" + text + "'");
  }
  return static_cast<std::uint64_t>(v);
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string part;
  std::istringstream in(s);
  while (std::getline(in, part, sep)) out.push_back(part);
  if (!s.empty() && s.back() == sep) out.emplace_back();
  return out;
}

// The second field: a long edge ("1280"), or with `crop` a box ("320x320",
// each side 16..16384) that the detect stage fills with a face-aware crop.
Result<image::RenditionSpec> ParseSizeField(image::RenditionSpec spec, const std::string& field,
                                            bool crop) {
  const size_t x = field.find('x');
  if (crop != (x != std::string::npos)) {
    return BadConfig("PHOTO_PIPELINE_RENDITIONS: '" + spec.name + "': a WxH box goes with " +
                     "':crop' and ':crop' with a WxH box (got '" + field + "')");
  }
  if (!crop) {
    ASSIGN_OR_RETURN(std::uint64_t edge, ParseUnsigned("PHOTO_PIPELINE_RENDITIONS long edge", field));
    if (edge > 16384) return BadConfig("PHOTO_PIPELINE_RENDITIONS: long edge over 16384");
    spec.long_edge = static_cast<int>(edge);
    return spec;
  }
  ASSIGN_OR_RETURN(std::uint64_t w, ParseUnsigned("PHOTO_PIPELINE_RENDITIONS crop width", field.substr(0, x)));
  ASSIGN_OR_RETURN(std::uint64_t h, ParseUnsigned("PHOTO_PIPELINE_RENDITIONS crop height", field.substr(x + 1)));
  if (w < 16 || h < 16 || w > 16384 || h > 16384) {
    return BadConfig("PHOTO_PIPELINE_RENDITIONS: crop sides must be 16..16384");
  }
  spec.crop_width = static_cast<int>(w);
  spec.crop_height = static_cast<int>(h);
  spec.long_edge = static_cast<int>(std::max(w, h));
  return spec;
}

}  // namespace

Result<std::vector<image::RenditionSpec>> ParseRenditions(const std::string& text) {
  std::vector<image::RenditionSpec> specs;
  for (const std::string& item : Split(text, ',')) {
    std::vector<std::string> f = Split(item, ':');
    if (f.size() < 2 || f.size() > 5) {
      return BadConfig("PHOTO_PIPELINE_RENDITIONS: '" + item +
                       "' is not name:long_edge[:format[:quality[:wm]]] or "
                       "name:WxH:format:quality:crop");
    }
    image::RenditionSpec spec;
    spec.name = f[0];
    ASSIGN_OR_RETURN(spec, ParseSizeField(std::move(spec), f[1], f.size() == 5 && f[4] == "crop"));
    if (f.size() >= 3) {
      if (f[2] == "jpeg" || f[2] == "jpg") spec.format = image::OutputFormat::kJpeg;
      else if (f[2] == "webp") spec.format = image::OutputFormat::kWebp;
      else if (f[2] == "avif") spec.format = image::OutputFormat::kAvif;
      else if (f[2] == "png") spec.format = image::OutputFormat::kPng;
      else return BadConfig("PHOTO_PIPELINE_RENDITIONS: unknown format '" + f[2] + "'");
    }
    if (f.size() >= 4) {
      ASSIGN_OR_RETURN(std::uint64_t q, ParseUnsigned("PHOTO_PIPELINE_RENDITIONS quality", f[3]));
      if (q > 100) return BadConfig("PHOTO_PIPELINE_RENDITIONS: quality over 100");
      spec.quality = static_cast<int>(q);
    }
    if (f.size() == 5) {
      if (f[4] != "wm" && f[4] != "crop") {
        return BadConfig("PHOTO_PIPELINE_RENDITIONS: 5th field must be 'wm' or 'crop'");
      }
      spec.watermark = f[4] == "wm";
    }
    specs.push_back(std::move(spec));
  }
  RETURN_IF_ERROR(image::ValidateRenditionSpecs(specs));
  return specs;
}

Status ResizeConfig::LoadFromEnv() {
  if (const char* v = std::getenv("PHOTO_PIPELINE_RENDITIONS"); v != nullptr && *v != '\0') {
    ASSIGN_OR_RETURN(renditions, ParseRenditions(v));
  }
  if (const char* v = std::getenv("PHOTO_PIPELINE_MAX_BYTES"); v != nullptr && *v != '\0') {
    ASSIGN_OR_RETURN(limits.max_bytes, ParseUnsigned("PHOTO_PIPELINE_MAX_BYTES", v));
  }
  if (const char* v = std::getenv("PHOTO_PIPELINE_MAX_PIXELS"); v != nullptr && *v != '\0') {
    ASSIGN_OR_RETURN(limits.max_pixels, ParseUnsigned("PHOTO_PIPELINE_MAX_PIXELS", v));
  }
  if (const char* v = std::getenv("PHOTO_PIPELINE_MAX_FRAMES"); v != nullptr && *v != '\0') {
    ASSIGN_OR_RETURN(std::uint64_t frames, ParseUnsigned("PHOTO_PIPELINE_MAX_FRAMES", v));
    if (frames > 100000) return BadConfig("PHOTO_PIPELINE_MAX_FRAMES: over 100000");
    limits.max_frames = static_cast<int>(frames);
  }
  if (const char* v = std::getenv("PHOTO_PIPELINE_WATERMARK_ENABLED"); v != nullptr && *v != '\0') {
    const std::optional<bool> on = ParseBoolSetting(v);
    if (!on) {
      return BadConfig(std::string("PHOTO_PIPELINE_WATERMARK_ENABLED=\"") + v +
                       "\" is not a boolean (true/false)");
    }
    watermark_enabled = *on;
  }
  return Validate();
}

Status ResizeConfig::Validate() const {
  RETURN_IF_ERROR(image::ValidateRenditionSpecs(renditions));
  if (limits.max_bytes == 0) return BadConfig("max_bytes must be > 0");
  if (limits.max_pixels == 0) return BadConfig("max_pixels must be > 0");
  if (limits.max_frames < 1) return BadConfig("max_frames must be >= 1");
  if (limits.max_dimension < 1) return BadConfig("max_dimension must be >= 1");
  return Status::Ok();
}

Result<ResizeOutput> RunResize(const ResizeConfig& config, const Layout& layout,
                               const std::string& id) {
  if (!IsValidImageId(id)) return InvalidArgumentError("invalid_id", "not an image id: " + id);
  const std::filesystem::path original = layout.Original(id);
  // Size first: an oversized original is refused without reading it.
  std::error_code ec;
  std::uintmax_t size = std::filesystem::file_size(original, ec);
  if (ec == std::errc::no_such_file_or_directory) {
    return NotFoundError("not_found", "no original for " + id);
  }
  if (ec) return UnavailableError("io_error", "stat " + original.string() + ": " + ec.message());
  if (size > config.limits.max_bytes) {
    return ResourceExhaustedError("too_large", std::to_string(size) +
                                                   " bytes exceeds the limit of " +
                                                   std::to_string(config.limits.max_bytes));
  }
  Result<std::string> bytes = ReadFile(original);
  if (!bytes) return bytes.error().WithContext("resize: reading the original");

  // Face-aware crops are the detect stage's (it has the face boxes).
  std::vector<image::RenditionSpec> specs;
  for (const image::RenditionSpec& s : config.renditions) {
    if (!s.is_crop()) specs.push_back(s);
  }
  ASSIGN_OR_RETURN(image::RenditionSet set,
                   image::MakeRenditions(*bytes, specs, config.limits,
                                         {.watermark_inputs_are_intermediate =
                                              config.watermark_enabled,
                                          .jpeg_row_restarts = config.jpeg_row_restarts,
                                          .upsampled_area = config.upsampled_area}));

  ResizeOutput out;
  out.source = set.source;
  for (size_t i = 0; i < specs.size(); ++i) {
    const image::RenditionSpec& spec = specs[i];
    const image::EncodedRendition& enc = set.renditions[i];
    std::filesystem::path path =
        spec.watermark ? layout.CleanRendition(id, spec) : layout.FinalRendition(id, spec);
    Status written = WriteFileAtomic(path, std::string_view(enc.bytes), layout.durability());
    if (!written.ok()) {
      return UnavailableError("io_error", "writing " + path.string() + ": " + written.message());
    }
    image::Rendition r;
    r.name = spec.name;
    r.path = path.string();
    r.width = enc.width;
    r.height = enc.height;
    r.bytes = enc.bytes.size();
    r.format = spec.format;
    r.watermarked = false;
    out.renditions.push_back(std::move(r));
  }
  return out;
}

}  // namespace photo::pipeline
