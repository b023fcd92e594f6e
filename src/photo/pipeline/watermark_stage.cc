#include "photo/pipeline/watermark_stage.h"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string_view>
#include <utility>

#include "photo/core/files.h"
#include "photo/core/text.h"
#include "photo/watermark/watermark.h"

namespace photo::pipeline {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kNoLogo = "none";

Status ConfigError(std::string message) {
  return InvalidArgumentError("bad_config", std::move(message));
}

std::optional<std::string> Env(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr) return std::nullopt;
  return std::string(v);
}

Result<bool> ParseBool(const char* name, const std::string& value) {
  if (const std::optional<bool> v = ParseBoolSetting(value)) return *v;
  return ConfigError(std::string(name) + "=\"" + value + "\" is not a boolean (true/false)");
}

// Accepts "0.6" and, for convenience, "60%".
Result<double> ParseFraction(const char* name, const std::string& value) {
  std::string v = value;
  double scale = 1.0;
  if (!v.empty() && v.back() == '%') {
    v.pop_back();
    scale = 0.01;
  }
  errno = 0;
  char* end = nullptr;
  const double d = std::strtod(v.c_str(), &end);
  if (v.empty() || end != v.c_str() + v.size() || errno != 0 || !std::isfinite(d)) {
    return ConfigError(std::string(name) + "=\"" + value + "\" is not a number");
  }
  return d * scale;
}

// What the watermark module needs, with the logo bytes owned here.
struct Prepared {
  std::string logo_bytes;  // a configured logo file; options.logo points here once in place
  watermark::Options options;
};

// Precondition: config.Validate() is OK.
Result<Prepared> Prepare(const WatermarkConfig& config) {
  Prepared p;
  p.options.text = config.text;
  p.options.position = *watermark::ParsePosition(config.position);
  p.options.opacity = config.opacity;
  p.options.margin = config.margin;
  p.options.size = config.size;
  if (config.logo.empty()) {
    p.options.logo = watermark::DefaultLogoPng();
  } else if (config.logo != kNoLogo) {
    // Read on every run (it is small) so a replaced file is picked up; the
    // decode is cached by content in the watermark module.
    auto bytes = ReadFile(config.logo);
    if (!bytes.ok()) {
      return ConfigError("PHOTO_PIPELINE_WATERMARK_LOGO: " + bytes.error().ToString());
    }
    p.logo_bytes = std::move(bytes).value();
    if (p.logo_bytes.empty()) {
      return ConfigError("PHOTO_PIPELINE_WATERMARK_LOGO=\"" + config.logo + "\" is empty");
    }
  }
  return p;
}

}  // namespace

Status WatermarkConfig::LoadFromEnv() {
  if (auto v = Env("PHOTO_PIPELINE_WATERMARK_ENABLED")) {
    ASSIGN_OR_RETURN(enabled, ParseBool("PHOTO_PIPELINE_WATERMARK_ENABLED", *v));
  }
  if (auto v = Env("PHOTO_PIPELINE_WATERMARK_TEXT")) text = *v;
  if (auto v = Env("PHOTO_PIPELINE_WATERMARK_LOGO")) logo = *v;
  if (auto v = Env("PHOTO_PIPELINE_WATERMARK_POSITION")) position = *v;
  if (auto v = Env("PHOTO_PIPELINE_WATERMARK_OPACITY")) {
    ASSIGN_OR_RETURN(opacity, ParseFraction("PHOTO_PIPELINE_WATERMARK_OPACITY", *v));
  }
  if (auto v = Env("PHOTO_PIPELINE_WATERMARK_MARGIN")) {
    ASSIGN_OR_RETURN(margin, ParseFraction("PHOTO_PIPELINE_WATERMARK_MARGIN", *v));
  }
  if (auto v = Env("PHOTO_PIPELINE_WATERMARK_SIZE")) {
    ASSIGN_OR_RETURN(size, ParseFraction("PHOTO_PIPELINE_WATERMARK_SIZE", *v));
  }
  return Status::Ok();
}

Status WatermarkConfig::Validate() const {
  auto pos = watermark::ParsePosition(position);
  if (!pos.ok()) return ConfigError("PHOTO_PIPELINE_WATERMARK_POSITION: " + pos.error().message());
  if (!(opacity >= 0.0 && opacity <= 1.0)) {
    return ConfigError("PHOTO_PIPELINE_WATERMARK_OPACITY must be within 0..1, got " +
                       std::to_string(opacity));
  }
  if (!(margin >= 0.0 && margin <= 0.25)) {
    return ConfigError(
        "PHOTO_PIPELINE_WATERMARK_MARGIN must be within 0..0.25 (a fraction of the "
        "rendition width), got " +
        std::to_string(margin));
  }
  if (!(size > 0.0 && size <= 1.0)) {
    return ConfigError(
        "PHOTO_PIPELINE_WATERMARK_SIZE must be within (0, 1] (a fraction of the "
        "rendition width), got " +
        std::to_string(size));
  }
  if (!logo.empty() && logo != kNoLogo) {
    std::error_code ec;
    if (!fs::is_regular_file(logo, ec)) {
      return ConfigError("PHOTO_PIPELINE_WATERMARK_LOGO=\"" + logo + "\" is not a readable file");
    }
  }
  if (enabled && logo == kNoLogo && text.empty()) {
    return ConfigError(
        "PHOTO_PIPELINE_WATERMARK_LOGO=none with an empty "
        "PHOTO_PIPELINE_WATERMARK_TEXT leaves nothing to draw");
  }
  // Text rules (length, UTF-8) live with the renderer.
  watermark::Options probe;
  probe.text = text;
  probe.logo = "x";
  if (Status s = watermark::Validate(probe); !s.ok()) {
    return ConfigError("PHOTO_PIPELINE_WATERMARK_TEXT: " + s.message());
  }
  return Status::Ok();
}

Result<std::vector<image::Rendition>> RunWatermark(const WatermarkConfig& config,
                                                   const Layout& layout, const std::string& id,
                                                   const std::vector<image::RenditionSpec>& specs,
                                                   std::vector<image::Rendition> renditions) {
  RETURN_IF_ERROR(config.Validate());
  Prepared prepared;
  if (config.enabled) {
    ASSIGN_OR_RETURN(prepared, Prepare(config));
    // Pointed only now: a move of Prepared may relocate a short string's bytes.
    if (!prepared.logo_bytes.empty()) prepared.options.logo = prepared.logo_bytes;
  }
  // Largest first: a smaller spec whose clean file is byte-identical (the
  // source was smaller than both targets; image::MakeRenditions encoded it
  // once) reuses the larger one's result when its quality is no higher.
  std::vector<const image::RenditionSpec*> order;
  for (const image::RenditionSpec& spec : specs) {
    if (spec.watermark) order.push_back(&spec);
  }
  std::stable_sort(order.begin(), order.end(), [](const auto* a, const auto* b) {
    return a->long_edge > b->long_edge;
  });
  struct Done {
    const image::RenditionSpec* spec;
    std::string clean_bytes, out_bytes;
    int width, height;
  };
  std::vector<Done> done;
  for (const image::RenditionSpec* spec_ptr : order) {
    const image::RenditionSpec& spec = *spec_ptr;
    auto it = std::find_if(renditions.begin(), renditions.end(),
                           [&](const image::Rendition& r) { return r.name == spec.name; });
    if (it == renditions.end()) {
      return FailedPreconditionError("rendition_missing",
                                     "no \"" + spec.name + "\" rendition to watermark for " + id);
    }
    const fs::path clean = layout.CleanRendition(id, spec);
    const fs::path final_path = layout.FinalRendition(id, spec);
    ASSIGN_OR_RETURN(std::string clean_bytes, ReadFile(clean));
    std::string out_bytes;
    int width = it->width;
    int height = it->height;
    auto same = std::find_if(done.begin(), done.end(), [&](const Done& d) {
      return d.spec->format == spec.format && d.spec->quality >= spec.quality &&
             d.clean_bytes == clean_bytes;
    });
    if (config.enabled && same != done.end()) {
      out_bytes = same->out_bytes;
      width = same->width;
      height = same->height;
    } else if (config.enabled) {
      auto encoded =
          watermark::ApplyToEncoded(clean_bytes, spec.format, spec.quality, prepared.options,
                                    config.jpeg_marking);
      if (!encoded.ok()) return encoded.error().WithContext("watermark " + spec.name);
      out_bytes = std::move(encoded->bytes);
      width = encoded->width;
      height = encoded->height;
      done.push_back({&spec, std::move(clean_bytes), out_bytes, width, height});
    } else {
      // Disabled: publish the clean bytes as they are (no generation loss).
      out_bytes = std::move(clean_bytes);
    }
    RETURN_IF_ERROR(WriteFileAtomic(final_path, std::string_view(out_bytes), layout.durability()));
    it->path = final_path.string();
    it->width = width;
    it->height = height;
    it->bytes = out_bytes.size();
    it->format = spec.format;
    it->watermarked = config.enabled;
  }
  return renditions;
}

std::vector<fs::path> WatermarkInputs(const Layout& layout, const std::string& id,
                                      const std::vector<image::RenditionSpec>& specs,
                                      const std::vector<image::Rendition>& renditions) {
  std::vector<fs::path> out;
  for (const image::RenditionSpec& spec : specs) {
    const bool made = std::any_of(renditions.begin(), renditions.end(),
                                  [&](const image::Rendition& r) { return r.name == spec.name; });
    if (spec.watermark && made) out.push_back(layout.CleanRendition(id, spec));
  }
  return out;
}

}  // namespace photo::pipeline
