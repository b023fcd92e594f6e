// libvips process setup.
#pragma once

namespace photo::image {

// Initialises libvips once per process (thread-safe, idempotent). Sets the
// operation cache and concurrency from PHOTO_PIPELINE_VIPS_CONCURRENCY /
// VIPS_CONCURRENCY.
void InitVips(const char* argv0 = "photo-pipeline");

}  // namespace photo::image
