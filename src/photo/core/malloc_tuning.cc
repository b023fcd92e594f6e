#include "photo/core/malloc_tuning.h"

#include <malloc.h>

#include <cstdlib>
#include <cstring>

namespace photo {

void TuneMallocForImages() {
  const char* v = std::getenv("PHOTO_PIPELINE_MALLOC_TUNING");
  if (v != nullptr && std::strcmp(v, "0") == 0) return;
  mallopt(M_MMAP_THRESHOLD, 128 << 20);
  mallopt(M_TRIM_THRESHOLD, 256 << 20);
  // Each arena keeps its own freed memory; libvips' worker threads would
  // otherwise each hold a copy of the working set.
  mallopt(M_ARENA_MAX, 4);
}

}  // namespace photo
