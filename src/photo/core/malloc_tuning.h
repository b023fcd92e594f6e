// Allocator settings for processes that handle images.
#pragma once

namespace photo {

// Image buffers are tens of MB. glibc serves those with fresh mmaps and
// returns them at free, so every image pays first-touch page faults again
// (measured here: ~13 us per 4 KiB page; libvips' 12 MP decode went from 253
// to 85 ms CPU with these thresholds, docs/stages/resize.md). Keeps such
// buffers in the heap and up to 256 MiB of freed memory for the next image:
// RSS stays flat at the working set instead of churning. Call first thing in
// main (photo-pipeline, and the benchmarks so they measure what the workers
// run). PHOTO_PIPELINE_MALLOC_TUNING=0 keeps glibc's defaults.
void TuneMallocForImages();

}  // namespace photo
