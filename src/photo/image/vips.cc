#include "photo/image/vips.h"

#include <vips/vips8>

#include <mutex>

namespace photo::image {

void InitVips(const char* argv0) {
  static std::once_flag once;
  std::call_once(once, [argv0] {
    if (VIPS_INIT(argv0) != 0) vips_error_exit("vips init failed");
  });
}

}  // namespace photo::image
