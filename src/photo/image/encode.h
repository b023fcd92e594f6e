// The one rendition encoder, shared by the resize and watermark stages so a
// watermarked rendition is encoded exactly like its clean sibling.
#pragma once

#include <string>

#include <vips/vips8>

#include "photo/image/types.h"

namespace photo::image {

// Encodes an 8-bit sRGB image (3 bands, or 4 with alpha for WebP/AVIF/PNG;
// callers flatten alpha before JPEG) with every piece of metadata stripped
// (EXIF and with it GPS, XMP, IPTC, ICC). Throws vips::VError: callers inside
// image/ and watermark/ turn it into a Status.
//
// Effort: kFinal for files that are published; kIntermediate for a file the
// next stage decodes again (the clean input of a watermarked rendition). It
// skips the JPEG Huffman-optimisation pass (measured here: +30 to +60 ms on a
// 2560x1920 encode for 5-20 % fewer bytes; docs/stages/resize.md) and uses
// the fastest WebP/PNG settings; the pixels are the same.
enum class EncodeEffort { kFinal, kIntermediate };
std::string EncodeVips(const vips::VImage& img, OutputFormat format, int quality,
                       EncodeEffort effort = EncodeEffort::kFinal);

// A JPEG of 8-bit RGB pixels (rows packed, width*3 bytes) straight through
// libjpeg-turbo, with the EncodeEffort::kIntermediate settings (no Huffman
// pass, chroma 4:2:0 below Q90 as libvips would choose, no metadata): for
// an intermediate whose pixels are already in a plain buffer, libvips'
// pipeline around the same encoder is pure overhead (~7 ms of ~20 on a
// 2560 px image here). Throws std::runtime_error on failure.
std::string EncodeJpegTurbo(const unsigned char* rgb, int width, int height, int quality);

// libvips 8.14's webpsave ignores strip=true and always writes an EXIF chunk
// (a fresh one, but still EXIF). Drops EXIF/XMP/ICCP chunks from the RIFF and
// clears their VP8X flags, so no WebP rendition carries metadata.
std::string StripWebpMetadata(std::string in);

}  // namespace photo::image
