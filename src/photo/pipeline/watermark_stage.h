// The watermark stage: clean renditions in, watermarked final renditions out.
//
// Owner: watermark. Thread-safe: RunWatermark may run on several threads at
// once; the decoded logo and rendered marks are cached per process (see
// photo/watermark/watermark.h).
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "photo/core/status.h"
#include "photo/image/types.h"
#include "photo/pipeline/layout.h"
#include "photo/watermark/marking.h"

namespace photo::pipeline {

// Defaults give a mark a person clearly sees: the project's logo (a white
// "photo-pipeline" wordmark on a translucent dark panel, embedded in the
// binary) bottom-right, 20% of the rendition's width, at 65% opacity.
// Sizes are fractions of the rendition width, so every rendition of a photo
// carries the same-looking mark.
struct WatermarkConfig {
  // PHOTO_PIPELINE_WATERMARK_ENABLED (true/false, 1/0, yes/no, on/off). When
  // false the stage still publishes the final renditions, as exact copies of
  // the clean ones (watermarked=false), so clients find them where they
  // always do.
  bool enabled = true;
  // PHOTO_PIPELINE_WATERMARK_TEXT: plain UTF-8 text drawn under the logo (or
  // alone when the logo is "none"); empty = no text.
  std::string text;
  // PHOTO_PIPELINE_WATERMARK_LOGO: path of a PNG (with alpha) to use instead
  // of the built-in logo; empty = built-in; "none" = text only.
  std::string logo;
  // PHOTO_PIPELINE_WATERMARK_POSITION: top-left, top, top-right, left,
  // center, right, bottom-left, bottom, bottom-right, or tiled.
  std::string position = "bottom-right";
  double opacity = 0.65;  // PHOTO_PIPELINE_WATERMARK_OPACITY, 0..1 (0 = invisible)
  double margin = 0.02;   // PHOTO_PIPELINE_WATERMARK_MARGIN, fraction of the width, 0..0.25
  double size = 0.2;      // PHOTO_PIPELINE_WATERMARK_SIZE, mark width / rendition width, (0, 1]
  // Code only (benchmarks compare them): how JPEG renditions at a grid
  // position are marked; kPixels decodes and re-encodes the whole rendition,
  // as before issue #14.
  watermark::JpegMarking jpeg_marking = watermark::JpegMarking::kBlocks;

  // Overlays the PHOTO_PIPELINE_WATERMARK_* variables that are set onto the
  // current values. kInvalidArgument ("bad_config") names the variable and
  // the bad value when one does not parse; ranges are Validate's job.
  Status LoadFromEnv();
  // kInvalidArgument ("bad_config") for an unknown position, a value out of
  // range, a logo path that is not a readable file, or nothing to draw.
  Status Validate() const;
};

// For each spec with watermark=true: reads layout.CleanRendition, applies the
// watermark, encodes with the spec's format and quality (metadata stripped)
// and writes layout.FinalRendition atomically. `renditions` is the list
// RunResize returned; the result is that list with, for each watermarked
// spec, path = the final file, watermarked = true, width/height/bytes of the
// final file. Renditions of other specs are returned unchanged and their
// files are not touched.
//
// Idempotent: the clean file is never modified, so a redelivered job
// rewrites the same final bytes.
// Errors: bad config (kInvalidArgument "bad_config"); a spec with
// watermark=true but no rendition in the list (kFailedPrecondition
// "rendition_missing"); a missing clean file (kNotFound); a clean file that
// does not decode (kInvalidArgument "corrupt_image"); write failures as
// WriteFileAtomic reports them.
Result<std::vector<image::Rendition>> RunWatermark(const WatermarkConfig& config,
                                                   const Layout& layout, const std::string& id,
                                                   const std::vector<image::RenditionSpec>& specs,
                                                   std::vector<image::Rendition> renditions);

// The files RunWatermark reads: the clean twin (layout.CleanRendition) of
// every watermarked spec that has a rendition in `renditions`. For a worker
// on remote storage, which fetches exactly these (worker/staging.h). Pure.
std::vector<std::filesystem::path> WatermarkInputs(const Layout& layout, const std::string& id,
                                                   const std::vector<image::RenditionSpec>& specs,
                                                   const std::vector<image::Rendition>& renditions);

}  // namespace photo::pipeline
