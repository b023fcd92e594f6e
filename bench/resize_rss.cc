// Peak RSS of resizing one large JPEG in a fresh process.
//
//   photo_resize_rss [--mode resize|thumbnail3x|vipsdecode] [--mp 50] [FILE]
//
// Without FILE, a forked child synthesises a grainy MP-megapixel JPEG into a
// temp file first, so the generator's memory never counts. Prints one line:
//   mode=resize mp=50 input_bytes=... rss_before_kb=... peak_rss_kb=... wall_ms=...
// Exit 0 on success.
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vips/vips8>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

#include "bench_images.h"
#include "photo/core/files.h"
#include "photo/image/resize.h"
#include "photo/image/vips.h"

namespace {

long MaxRssKb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
  std::string mode = "resize";
  int mp = 50;
  std::string file;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--mode" && i + 1 < argc) mode = argv[++i];
    else if (a == "--mp" && i + 1 < argc) mp = std::atoi(argv[++i]);
    else file = a;
  }
  bool temp = false;
  if (file.empty()) {
    file = (std::filesystem::temp_directory_path() /
            ("photo_resize_rss_" + std::to_string(::getpid()) + ".jpg"))
               .string();
    temp = true;
    pid_t child = fork();
    if (child == 0) {
      photo::image::InitVips(argv[0]);
      const std::string& jpeg = photo::bench::CameraJpeg(mp);
      _exit(photo::WriteFileAtomic(file, std::string_view(jpeg)).ok() ? 0 : 1);
    }
    int status = 0;
    waitpid(child, &status, 0);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      std::fprintf(stderr, "generating the input failed\n");
      return 1;
    }
  }
  photo::image::InitVips(argv[0]);
  auto bytes = photo::ReadFile(file);
  if (!bytes) {
    std::fprintf(stderr, "%s\n", bytes.error().ToString().c_str());
    return 1;
  }
  long before = MaxRssKb();
  auto t0 = std::chrono::steady_clock::now();
  if (mode == "resize") {
    auto r = photo::image::MakeRenditions(*bytes, photo::image::DefaultRenditions(), {});
    if (!r) {
      std::fprintf(stderr, "%s\n", r.error().ToString().c_str());
      return 1;
    }
  } else if (mode == "thumbnail3x") {
    for (const auto& spec : photo::image::DefaultRenditions()) {
      VipsBlob* blob = vips_blob_new(nullptr, bytes->data(), bytes->size());
      vips::VImage t = vips::VImage::thumbnail_buffer(blob, spec.long_edge);
      void* buf = nullptr;
      size_t len = 0;
      t.write_to_buffer(".jpg", &buf, &len, vips::VImage::option()->set("strip", true));
      g_free(buf);
      vips_area_unref(reinterpret_cast<VipsArea*>(blob));
    }
  } else if (mode == "vipsdecode") {
    vips::VImage img = vips::VImage::new_from_buffer(bytes->data(), bytes->size(), "").copy_memory();
  } else {
    std::fprintf(stderr, "unknown mode %s\n", mode.c_str());
    return 2;
  }
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
  std::printf("mode=%s mp=%d input_bytes=%zu rss_before_kb=%ld peak_rss_kb=%ld wall_ms=%.0f\n",
              mode.c_str(), mp, bytes->size(), before, MaxRssKb(), ms);
  if (temp) std::filesystem::remove(file);
  return 0;
}
