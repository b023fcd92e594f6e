// Internal to photo/image: the one place that maps a sniffed Format to its
// libvips loader, so a file is only ever parsed by the loader its bytes
// announce (never by libvips' own sniffing, which would also try SVG, PDF,
// ImageMagick, ...). Throws vips::VError; callers in image/ catch it.
#pragma once

#include <vips/vips8>

#include <string>
#include <string_view>

#include "photo/image/types.h"

namespace photo::image::internal {

// Lazily opens `bytes` with the loader for `format`: only the header is read
// until pixels are requested. `bytes` must outlive the returned image and
// every image derived from it. `options` is consumed (may be nullptr).
vips::VImage LoadBuffer(Format format, std::string_view bytes, vips::VOption* options = nullptr);

// The text of a libvips failure, for a Status message (which may reach an API
// client): BoundedErrorText of what `e` carries (its first and last lines, at
// most kMaxErrorTextBytes: libtiff alone can log a line per unknown tag), and
// libvips' error buffer cleared. That buffer is process-wide and cumulative: callers also clear it
// (vips_error_clear) before their libvips work so the text is about their
// input only. Under concurrency another thread's lines can still slip in.
std::string VipsErrorText(const vips::VError& e);

// libvips' nickname of an interpretation ("srgb", "cmyk", "b-w", ...).
const char* InterpretationName(VipsInterpretation interpretation);

}  // namespace photo::image::internal
