// libvips process setup.
#pragma once

namespace photo::image {

// Initialises libvips once per process (thread-safe, idempotent; later calls
// are no-ops). Aborts the process if libvips cannot start (nothing works
// without it, and it only fails on a broken installation).
//
// Policy set here, for every caller (api, workers, tests, benchmarks):
//  - the operation cache is off (vips_cache_set_max(0)): a service sees each
//    input once, and a cache would only pin decoded images in memory;
//  - worker threads per pipeline: PHOTO_PIPELINE_VIPS_CONCURRENCY, else
//    libvips' own VIPS_CONCURRENCY, else the number of cores;
//  - loaders libvips marks "untrusted" (SVG, PDF, ImageMagick, JPEG-XL,
//    Matlab, FITS, ...) are blocked, so even a code path that skipped the
//    probe cannot reach them; probe.h decides formats by magic bytes anyway.
void InitVips(const char* argv0 = "photo-pipeline");

}  // namespace photo::image
