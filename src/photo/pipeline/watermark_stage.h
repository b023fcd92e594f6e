// The watermark stage: clean renditions in, watermarked final renditions out.
//
// Owner: watermark. Thread-safe; the decoded logo is cached per process.
#pragma once

#include <string>
#include <vector>

#include "photo/core/status.h"
#include "photo/image/types.h"
#include "photo/pipeline/layout.h"

namespace photo::pipeline {

struct WatermarkConfig {
  bool enabled = true;
  std::string text;        // PHOTO_PIPELINE_WATERMARK_TEXT; empty = no text
  std::string logo_path;   // PHOTO_PIPELINE_WATERMARK_LOGO; empty = the built-in logo
  std::string position = "bottom-right";  // 9-point grid or "tiled"
  double opacity = 0.6;    // 0..1
  int margin_px = 24;      // scaled with the rendition
  double relative_size = 0.2;  // watermark width / rendition width

  Status LoadFromEnv();
  Status Validate() const;
};

// For each rendition with watermark=true in `renditions` (as ResizeOutput
// returns them): reads its clean file, applies the watermark, writes
// layout.FinalRendition atomically. Returns the full list with paths pointing
// at the final files and watermarked=true where applied; others unchanged.
// Idempotent.
Result<std::vector<image::Rendition>> RunWatermark(const WatermarkConfig& config,
                                                   const Layout& layout, const std::string& id,
                                                   const std::vector<image::RenditionSpec>& specs,
                                                   std::vector<image::Rendition> renditions);

}  // namespace photo::pipeline
