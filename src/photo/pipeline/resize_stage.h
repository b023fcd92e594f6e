// The resize stage: original in, renditions out.
//
// Owner: resize. Thread-safe (no shared mutable state); may be called from
// several threads at once.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "photo/core/status.h"
#include "photo/image/types.h"
#include "photo/pipeline/layout.h"

namespace photo::pipeline {

struct ResizeConfig {
  // PHOTO_PIPELINE_RENDITIONS, e.g. "thumb:320:jpeg:80,medium:1280:jpeg:82:wm,large:2560:webp:85:wm"
  std::vector<image::RenditionSpec> renditions = image::DefaultRenditions();
  image::Limits limits;  // PHOTO_PIPELINE_MAX_BYTES / _MAX_PIXELS / _MAX_FRAMES

  // Overlays PHOTO_PIPELINE_* environment variables onto the defaults.
  Status LoadFromEnv();
  Status Validate() const;
};

struct ResizeOutput {
  image::ProbeInfo source;
  // One per spec, in spec order. Specs with watermark=true are written to
  // layout.CleanRendition (path points there, watermarked=false); the others
  // to layout.FinalRendition.
  std::vector<image::Rendition> renditions;
};

// Probes, decodes once (shrink-on-load), auto-orients, converts to sRGB,
// strips metadata, and writes every rendition atomically. Idempotent: running
// it again for the same id rewrites identical files.
// Errors: the probe's typed errors (unsupported_media_type, too_large,
// too_many_pixels, too_many_frames, corrupt_image) are permanent
// (kInvalidArgument / kResourceExhausted); io errors are kUnavailable.
Result<ResizeOutput> RunResize(const ResizeConfig& config, const Layout& layout,
                               const std::string& id);

}  // namespace photo::pipeline
