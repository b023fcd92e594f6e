#include "photo/image/vips.h"

#include <vips/vips8>

#include <cstdlib>
#include <mutex>
#include <string>

namespace photo::image {
namespace {

int ConcurrencyFromEnv() {
  const char* v = std::getenv("PHOTO_PIPELINE_VIPS_CONCURRENCY");
  if (v == nullptr || *v == '\0') return 0;  // let libvips decide (VIPS_CONCURRENCY / cores)
  char* end = nullptr;
  long n = std::strtol(v, &end, 10);
  if (*end != '\0' || n < 1 || n > 1024) return 0;
  return static_cast<int>(n);
}

}  // namespace

void InitVips(const char* argv0) {
  static std::once_flag once;
  std::call_once(once, [argv0] {
    if (VIPS_INIT(argv0) != 0) vips_error_exit("vips init failed");
    vips_cache_set_max(0);
    vips_cache_set_max_mem(0);
    vips_cache_set_max_files(0);
    if (int n = ConcurrencyFromEnv(); n > 0) vips_concurrency_set(n);
    vips_block_untrusted_set(TRUE);
  });
}

}  // namespace photo::image
