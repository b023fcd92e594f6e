#include "photo/image/testing/synth.h"

#include <vips/vips8>

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "photo/image/vips.h"

namespace photo::image::testing {
namespace {

using vips::VImage;

[[noreturn]] void Die(const char* what, const vips::VError& e) {
  std::fprintf(stderr, "synth: %s: %s\n", what, e.what());
  std::abort();
}

std::string Save(const VImage& image, const char* suffix, vips::VOption* options = nullptr) {
  void* buf = nullptr;
  size_t size = 0;
  image.write_to_buffer(suffix, &buf, &size, options);
  std::string out(static_cast<const char*>(buf), size);
  g_free(buf);
  return out;
}

// Gradients + shapes + grain, 3-band uchar sRGB.
VImage PhotoPixels(int w, int h, double sigma) {
  VImage xyz = VImage::xyz(w, h);
  VImage x = xyz[0];
  VImage y = xyz[1];
  double fw = std::max(1, w - 1);
  double fh = std::max(1, h - 1);
  VImage r = x * (220.0 / fw) + 20;
  VImage g = y * (200.0 / fh) + 30;
  VImage b = (x * (1.0 / fw) + y * (-1.0 / fh)) * 90 + 120;
  VImage rgb = r.bandjoin(g).bandjoin(b);
  if (sigma > 0) {
    // A fixed-seed noise tile repeated over the image: camera-like grain
    // (and JPEG entropy) at a fraction of the cost of full-size gaussnoise.
    const int tile = std::min(509, std::max(w, h));
    VImage noise = VImage::gaussnoise(tile, tile,
                                      VImage::option()->set("sigma", sigma)->set("mean", 0.0)->set(
                                          "seed", 42))
                       .copy_memory();
    int across = (w + tile - 1) / tile;
    int down = (h + tile - 1) / tile;
    noise = noise.replicate(across, down).crop(0, 0, w, h);
    rgb = rgb + noise;
  }
  rgb = rgb.cast(VIPS_FORMAT_UCHAR).copy_memory();
  // Shapes drawn in place on the private memory copy.
  int s = std::max(1, std::min(w, h));
  rgb.draw_circle({240, 200, 40}, w / 3, h / 2, s / 6, VImage::option()->set("fill", true));
  rgb.draw_rect({30, 60, 160}, w / 2, h / 5, std::max(1, w / 4), std::max(1, h / 3),
                VImage::option()->set("fill", true));
  rgb.draw_rect({250, 250, 250}, w / 10, h * 3 / 4, std::max(1, w / 2), std::max(1, h / 12),
                VImage::option()->set("fill", true));
  return rgb.copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
}

void SetExif(VImage& image, const SynthOptions& o) {
  if (o.orientation >= 1 && o.orientation <= 8) image.set("orientation", o.orientation);
  if (o.camera) {
    image.set("exif-ifd0-Make", "PhotoTest");
    image.set("exif-ifd0-Model", "Synth 1");
    image.set("exif-ifd2-DateTimeOriginal", "2021:06:05 04:03:02");
  }
  if (o.gps) {
    image.set("exif-ifd3-GPSLatitudeRef", "N");
    image.set("exif-ifd3-GPSLatitude", "48/1 51/1 296/10");
    image.set("exif-ifd3-GPSLongitudeRef", "E");
    image.set("exif-ifd3-GPSLongitude", "2/1 17/1 402/10");
  }
}

std::string Encode(const VImage& image, SynthFormat f, const SynthOptions& o) {
  switch (f) {
    case SynthFormat::kJpeg:
      return Save(image, ".jpg",
                  VImage::option()->set("Q", o.quality)->set(
                      "subsample_mode", o.subsample ? VIPS_FOREIGN_SUBSAMPLE_ON
                                                    : VIPS_FOREIGN_SUBSAMPLE_OFF));
    case SynthFormat::kPng:
      return Save(image, ".png", VImage::option()->set("compression", 1));
    case SynthFormat::kWebp:
      return Save(image, ".webp", VImage::option()->set("Q", o.quality));
    case SynthFormat::kTiff:
      return Save(image, ".tif");
    case SynthFormat::kGif:
      return Save(image, ".gif", VImage::option()->set("effort", 1)->set("dither", 0.0));
    case SynthFormat::kHeif:
      return Save(image, ".heic", VImage::option()->set("Q", o.quality)->set("compression", VIPS_FOREIGN_HEIF_COMPRESSION_HEVC)->set("effort", 0));
    case SynthFormat::kAvif:
      return Save(image, ".avif", VImage::option()->set("Q", o.quality)->set("compression", VIPS_FOREIGN_HEIF_COMPRESSION_AV1)->set("effort", 0));
  }
  return {};
}

void Append32be(std::string& s, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) s.push_back(static_cast<char>((v >> shift) & 0xff));
}
void Append16le(std::string& s, std::uint32_t v) {
  s.push_back(static_cast<char>(v & 0xff));
  s.push_back(static_cast<char>((v >> 8) & 0xff));
}
void Append32le(std::string& s, std::uint32_t v) {
  Append16le(s, v & 0xffff);
  Append16le(s, v >> 16);
}

std::string PngChunk(const char* type, const std::string& data) {
  std::string out;
  Append32be(out, static_cast<std::uint32_t>(data.size()));
  std::string body = std::string(type, 4) + data;
  out += body;
  Append32be(out, Crc32(body));
  return out;
}

}  // namespace

std::uint32_t Crc32(const std::string& bytes) {
  static const std::array<std::uint32_t, 256> table = [] {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t n = 0; n < 256; ++n) {
      std::uint32_t c = n;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xedb88320u ^ (c >> 1) : c >> 1;
      t[n] = c;
    }
    return t;
  }();
  std::uint32_t c = 0xffffffffu;
  for (unsigned char ch : bytes) c = table[(c ^ ch) & 0xff] ^ (c >> 8);
  return c ^ 0xffffffffu;
}

std::string MakePhoto(const SynthOptions& o) {
  InitVips();
  try {
    VImage image = PhotoPixels(o.width, o.height, o.noise_sigma);
    if (o.format == SynthFormat::kJpeg) SetExif(image, o);
    return Encode(image, o.format, o);
  } catch (const vips::VError& e) {
    Die("MakePhoto", e);
  }
}

MarkerLayout MarkersFor(int w, int h) {
  int side = std::max(2, std::min(w, h) / 4);
  return {side, side / 2, side / 2, w - side + side / 2, side / 2};
}

std::string MakeOrientedJpeg(int orientation, int w, int h) {
  InitVips();
  try {
    MarkerLayout m = MarkersFor(w, h);
    VImage display = (VImage::black(w, h, VImage::option()->set("bands", 3)) + 128)
                         .cast(VIPS_FORMAT_UCHAR)
                         .copy_memory();
    display.draw_rect({255, 0, 0}, 0, 0, m.side, m.side, VImage::option()->set("fill", true));
    display.draw_rect({0, 255, 0}, w - m.side, 0, m.side, m.side,
                      VImage::option()->set("fill", true));
    display = display.copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
    // libvips' autorot displays stored S as fliph(rot(S, a)); invert that.
    VImage stored = display;
    switch (orientation) {
      case 2: stored = display.fliphor(); break;
      case 3: stored = display.rot180(); break;
      case 4: stored = display.fliphor().rot180(); break;
      case 5: stored = display.fliphor().rot270(); break;
      case 6: stored = display.rot270(); break;
      case 7: stored = display.fliphor().rot90(); break;
      case 8: stored = display.rot90(); break;
      default: break;
    }
    stored = stored.copy_memory();
    if (orientation >= 1 && orientation <= 8) stored.set("orientation", orientation);
    // 4:4:4 and high quality keep the marker colours crisp.
    return Save(stored, ".jpg",
                VImage::option()->set("Q", 95)->set("subsample_mode", VIPS_FOREIGN_SUBSAMPLE_OFF));
  } catch (const vips::VError& e) {
    Die("MakeOrientedJpeg", e);
  }
}

std::string MakeJpegWithGps(int width, int height) {
  SynthOptions o;
  o.width = width;
  o.height = height;
  o.gps = true;
  o.camera = true;
  return MakePhoto(o);
}

std::string MakeCmykJpeg(int width, int height) {
  InitVips();
  try {
    VImage cmyk = PhotoPixels(width, height, 4).icc_transform(
        "cmyk", VImage::option()->set("input_profile", "srgb")->set("embedded", false));
    return Save(cmyk, ".jpg", VImage::option()->set("Q", 90));
  } catch (const vips::VError& e) {
    Die("MakeCmykJpeg", e);
  }
}

std::string MakePng16(int width, int height, bool grey) {
  InitVips();
  try {
    VImage img = PhotoPixels(width, height, 4)
                     .colourspace(grey ? VIPS_INTERPRETATION_GREY16 : VIPS_INTERPRETATION_RGB16);
    return Save(img, ".png", VImage::option()->set("compression", 1));
  } catch (const vips::VError& e) {
    Die("MakePng16", e);
  }
}

std::string MakeGreyJpeg(int width, int height) {
  InitVips();
  try {
    VImage img = PhotoPixels(width, height, 4).colourspace(VIPS_INTERPRETATION_B_W);
    return Save(img, ".jpg", VImage::option()->set("Q", 90));
  } catch (const vips::VError& e) {
    Die("MakeGreyJpeg", e);
  }
}

namespace {
VImage RgbaPixels(int width, int height) {
  VImage rgb = PhotoPixels(width, height, 4);
  VImage x = VImage::xyz(width, height)[0];
  VImage y = VImage::xyz(width, height)[1];
  // Opaque on the right half, transparent on the left, 50% in a middle band.
  VImage alpha = (x >= width / 2).ifthenelse(255, 0);
  VImage band = (y >= height * 2 / 5) & (y < height * 3 / 5);
  alpha = band.ifthenelse(128, alpha).cast(VIPS_FORMAT_UCHAR);
  return rgb.bandjoin(alpha).copy(
      VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
}
}  // namespace

std::string MakeRgbaPng(int width, int height) {
  InitVips();
  try {
    return Save(RgbaPixels(width, height), ".png", VImage::option()->set("compression", 1));
  } catch (const vips::VError& e) {
    Die("MakeRgbaPng", e);
  }
}

std::string MakeRgbaWebp(int width, int height) {
  InitVips();
  try {
    return Save(RgbaPixels(width, height), ".webp", VImage::option()->set("Q", 90));
  } catch (const vips::VError& e) {
    Die("MakeRgbaWebp", e);
  }
}

std::string MakeAnimatedGif(int width, int height, int frames) {
  InitVips();
  try {
    std::vector<VImage> pages;
    for (int i = 0; i < frames; ++i) {
      double v = (i * 67) % 256;
      pages.push_back((VImage::black(width, height, VImage::option()->set("bands", 3)) +
                       std::vector<double>{v, 255 - v, 128})
                          .cast(VIPS_FORMAT_UCHAR));
    }
    VImage strip = VImage::arrayjoin(pages, VImage::option()->set("across", 1));
    strip = strip.copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB))
                .copy_memory();
    strip.set("page-height", height);
    strip.set("delay", std::vector<int>(static_cast<size_t>(frames), 100));
    strip.set("loop", 0);
    return Save(strip, ".gif", VImage::option()->set("effort", 1)->set("dither", 0.0));
  } catch (const vips::VError& e) {
    Die("MakeAnimatedGif", e);
  }
}

std::string EmptyBytes() { return {}; }

std::string TextBytes() {
  return "This is not an image. It is a plain text file that someone uploaded\n"
         "with a .jpg name, hoping the service trusts the extension.\n";
}

std::string TruncatedJpeg(double keep_fraction) {
  SynthOptions o;
  o.width = 320;
  o.height = 240;
  std::string full = MakePhoto(o);
  auto keep = static_cast<size_t>(static_cast<double>(full.size()) * keep_fraction);
  return full.substr(0, std::clamp<size_t>(keep, 4, full.size() - 2));
}

std::string PngHeaderOnly(std::uint32_t width, std::uint32_t height) {
  std::string out("\x89PNG\r\n\x1a\n", 8);
  std::string ihdr;
  Append32be(ihdr, width);
  Append32be(ihdr, height);
  ihdr += std::string("\x08\x02\x00\x00\x00", 5);  // 8-bit RGB, deflate, no filter, no interlace
  out += PngChunk("IHDR", ihdr);
  out += PngChunk("IEND", "");
  return out;
}

std::string SvgBytes() {
  return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
         "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100\" height=\"100\">\n"
         "  <script>alert('svg')</script>\n"
         "  <rect width=\"100\" height=\"100\" fill=\"red\"/>\n"
         "</svg>\n";
}

std::string PdfBytes() {
  return "%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
         "2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\n"
         "trailer << /Root 1 0 R >>\n%%EOF\n";
}

std::string PolyglotJpegHtmlZip() {
  SynthOptions o;
  o.width = 160;
  o.height = 120;
  std::string out = MakePhoto(o);
  out += "<html><body>";
  out += kPolyglotMarker;
  out += "</body></html>";
  // A stored (uncompressed) ZIP with one file; offsets are relative to the
  // start of the whole file, as unzip tools expect for a self-extracting
  // style archive.
  const std::string name = "payload.txt";
  const std::string data = "polyglot payload\n";
  const std::uint32_t crc = Crc32(data);
  const auto local_offset = static_cast<std::uint32_t>(out.size());
  std::string local("PK\x03\x04", 4);
  Append16le(local, 10);  // version needed
  Append16le(local, 0);   // flags
  Append16le(local, 0);   // method: stored
  Append16le(local, 0);   // time
  Append16le(local, 0);   // date
  Append32le(local, crc);
  Append32le(local, static_cast<std::uint32_t>(data.size()));
  Append32le(local, static_cast<std::uint32_t>(data.size()));
  Append16le(local, static_cast<std::uint32_t>(name.size()));
  Append16le(local, 0);
  local += name + data;
  out += local;
  const auto central_offset = static_cast<std::uint32_t>(out.size());
  std::string central("PK\x01\x02", 4);
  Append16le(central, 20);
  Append16le(central, 10);
  Append16le(central, 0);
  Append16le(central, 0);
  Append16le(central, 0);
  Append16le(central, 0);
  Append32le(central, crc);
  Append32le(central, static_cast<std::uint32_t>(data.size()));
  Append32le(central, static_cast<std::uint32_t>(data.size()));
  Append16le(central, static_cast<std::uint32_t>(name.size()));
  Append16le(central, 0);  // extra
  Append16le(central, 0);  // comment
  Append16le(central, 0);  // disk
  Append16le(central, 0);  // internal attrs
  Append32le(central, 0);  // external attrs
  Append32le(central, local_offset);
  central += name;
  out += central;
  std::string eocd("PK\x05\x06", 4);
  Append16le(eocd, 0);
  Append16le(eocd, 0);
  Append16le(eocd, 1);
  Append16le(eocd, 1);
  Append32le(eocd, static_cast<std::uint32_t>(central.size()));
  Append32le(eocd, central_offset);
  Append16le(eocd, 0);
  out += eocd;
  return out;
}

}  // namespace photo::image::testing
