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
  // PHOTO_PIPELINE_WATERMARK_ENABLED (the watermark stage's switch, read here
  // too): when on, the clean "wm" renditions are intermediates the watermark
  // stage re-encodes, so they are encoded fast (image::MakeOptions); when off
  // they are published as they are and get the full encode.
  bool watermark_enabled = true;
  // Code only (benchmarks compare): image::MakeOptions::jpeg_row_restarts.
  bool jpeg_row_restarts = true;
  // Code only (benchmarks compare): image::MakeOptions::upsampled_area.
  bool upsampled_area = true;

  // Overlays PHOTO_PIPELINE_* environment variables onto the defaults (unset
  // or empty variables keep the default), then Validate()s.
  // Errors: invalid_config (kInvalidArgument) naming the variable.
  Status LoadFromEnv();
  // Rendition specs valid (image::ValidateRenditionSpecs), limits positive.
  Status Validate() const;
};

// Parses the PHOTO_PIPELINE_RENDITIONS syntax: comma-separated
// name:long_edge[:format[:quality[:wm]]], format jpeg|webp|avif|png (default
// jpeg), quality 1..100 (default 82), "wm" = the watermark stage marks it;
// or name:WxH:format:quality:crop, a face-aware crop to exactly WxH that the
// detect stage makes (RunResize skips it). Errors: invalid_config.
Result<std::vector<image::RenditionSpec>> ParseRenditions(const std::string& text);

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
// Errors: the probe's typed errors (empty_file, unsupported_media_type,
// too_large, too_many_pixels, too_many_frames, corrupt_image) are permanent
// (kInvalidArgument / kResourceExhausted); invalid_id (kInvalidArgument);
// not_found (kNotFound) when the original is missing; io_error
// (kUnavailable) when reading or writing fails; internal (kInternal) for an
// encoder failure or out of memory. Each file is written with
// WriteFileAtomic, so a crash leaves either the old or the new file; a rerun
// after a partial run completes the set.
Result<ResizeOutput> RunResize(const ResizeConfig& config, const Layout& layout,
                               const std::string& id);

}  // namespace photo::pipeline
