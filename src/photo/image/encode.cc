#include "photo/image/encode.h"

#include <turbojpeg.h>

#include <cstdint>
#include <stdexcept>
#include <string_view>

namespace photo::image {

using vips::VImage;

std::string StripWebpMetadata(std::string in) {
  auto le32 = [&](std::size_t at) {
    return static_cast<std::uint32_t>(static_cast<unsigned char>(in[at])) |
           static_cast<std::uint32_t>(static_cast<unsigned char>(in[at + 1])) << 8 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(in[at + 2])) << 16 |
           static_cast<std::uint32_t>(static_cast<unsigned char>(in[at + 3])) << 24;
  };
  if (in.size() < 12 || in.compare(0, 4, "RIFF") != 0 || in.compare(8, 4, "WEBP") != 0) return in;
  std::string out = in.substr(0, 12);
  std::size_t pos = 12;
  while (pos + 8 <= in.size()) {
    std::string_view fourcc(in.data() + pos, 4);
    std::size_t len = le32(pos + 4);
    std::size_t total = 8 + len + (len & 1);
    if (pos + total > in.size()) total = in.size() - pos;
    if (fourcc != "EXIF" && fourcc != "XMP " && fourcc != "ICCP") {
      std::string chunk = in.substr(pos, total);
      if (fourcc == "VP8X" && chunk.size() > 8) {
        chunk[8] = static_cast<char>(static_cast<unsigned char>(chunk[8]) & ~0x2cu);
      }
      out += chunk;
    }
    pos += total;
  }
  auto riff = static_cast<std::uint32_t>(out.size() - 8);
  for (std::size_t i = 0; i < 4; ++i) out[4 + i] = static_cast<char>((riff >> (8 * i)) & 0xffu);
  return out;
}

std::string EncodeJpegTurbo(const unsigned char* rgb, int width, int height, int quality) {
  tjhandle tj = tjInitCompress();
  if (tj == nullptr) throw std::runtime_error("jpeg encode: tjInitCompress failed");
  unsigned char* out = nullptr;
  unsigned long len = 0;
  const int rc = tjCompress2(tj, rgb, width, 0, height, TJPF_RGB, &out, &len,
                             quality < 90 ? TJSAMP_420 : TJSAMP_444, quality, 0);
  std::string error = rc != 0 ? tjGetErrorStr2(tj) : "";
  tjDestroy(tj);
  if (rc != 0) {
    tjFree(out);
    throw std::runtime_error("jpeg encode: " + error);
  }
  std::string bytes(reinterpret_cast<const char*>(out), len);
  tjFree(out);
  return bytes;
}

std::string EncodeVips(const VImage& img, OutputFormat format, int quality,
                       EncodeEffort effort) {
  const bool final_file = effort == EncodeEffort::kFinal;
  void* buf = nullptr;
  std::size_t len = 0;
  switch (format) {
    case OutputFormat::kJpeg:
      img.write_to_buffer(".jpg", &buf, &len,
                          VImage::option()
                              ->set("Q", quality)
                              ->set("strip", true)
                              ->set("optimize_coding", final_file));
      break;
    case OutputFormat::kWebp:
      img.write_to_buffer(
          ".webp", &buf, &len,
          VImage::option()->set("Q", quality)->set("strip", true)->set("effort", final_file ? 2 : 0));
      break;
    case OutputFormat::kAvif:
      img.write_to_buffer(".avif", &buf, &len,
                          VImage::option()
                              ->set("Q", quality)
                              ->set("strip", true)
                              ->set("compression", VIPS_FOREIGN_HEIF_COMPRESSION_AV1)
                              ->set("effort", 0));
      break;
    case OutputFormat::kPng:
      img.write_to_buffer(".png", &buf, &len,
                          VImage::option()->set("strip", true)->set("compression",
                                                                    final_file ? 6 : 1));
      break;
  }
  std::string out(static_cast<const char*>(buf), len);
  g_free(buf);
  if (format == OutputFormat::kWebp) out = StripWebpMetadata(std::move(out));
  return out;
}

}  // namespace photo::image
