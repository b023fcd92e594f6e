// How a JPEG rendition is marked; a header of its own so that the stage's
// config (pipeline/watermark_stage.h) names it without pulling in libvips.
#pragma once

namespace photo::watermark {

// For a JPEG rendition in and out at a grid position (watermark.h).
enum class JpegMarking {
  kBlocks,           // ApplyToJpegBlocks with the standard Huffman tables (the default)
  kBlocksOptimized,  // ApplyToJpegBlocks with Huffman tables computed per file
  kPixels,           // decode, Apply, encode (what every other case does)
};

}  // namespace photo::watermark
