#include "photo/watermark/watermark.h"

#include "photo/core/text.h"
#include "photo/image/encode.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <tuple>
#include <utility>

#include "photo/image/jpeg_region.h"
#include "photo/image/vips.h"

// Generated at configure time from data/watermark/logo.png (see CMakeLists.txt).
extern "C" const unsigned char photo_watermark_default_logo_png[];
extern "C" const unsigned long photo_watermark_default_logo_png_size;

namespace photo::watermark {
namespace {

using vips::VImage;

// Text is rendered at this font size first only to learn its proportions; the
// real render picks the dpi that lands on the target size, so glyphs are
// rasterised at their final size instead of being blurred by a resize.
constexpr const char* kFont = "DejaVu Sans Bold 96";
constexpr int kProbeDpi = 72;
// Operator input, not user input, but a typo must not render a 50 MP logo.
constexpr double kMaxLogoPixels = 4096.0 * 4096.0;
constexpr std::size_t kMaxTextBytes = 512;
// Bounded so odd rendition widths cannot grow the cache without limit.
constexpr std::size_t kMaxCacheEntries = 64;
// Tiled marks are rotated by this much (negative = rising left to right).
constexpr double kTileAngle = -30.0;
// Below this a mark is a smudge, not a watermark: tiny images go unmarked.
constexpr int kMinMarkWidth = 8;

Status OptionsError(std::string message) {
  return InvalidArgumentError("bad_watermark_options", std::move(message));
}
Status VipsFailure(const vips::VError& e, std::string_view what) {
  std::string msg(what);
  msg += ": ";
  msg += BoundedErrorText(e.what());
  vips_error_clear();
  return InternalError("watermark_failed", std::move(msg));
}

bool IsValidUtf8(std::string_view s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int extra = 0;
    if (c < 0x80) {
      extra = 0;
    } else if ((c & 0xE0) == 0xC0 && c >= 0xC2) {
      extra = 1;
    } else if ((c & 0xF0) == 0xE0) {
      extra = 2;
    } else if ((c & 0xF8) == 0xF0 && c <= 0xF4) {
      extra = 3;
    } else {
      return false;
    }
    if (s.size() - i <= static_cast<std::size_t>(extra)) return false;  // truncated sequence
    for (int k = 1; k <= extra; ++k) {
      if ((static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]) & 0xC0) != 0x80) {
        return false;
      }
    }
    if (c < 0x20 && c != '\t') return false;  // control characters confuse pango layout
    i += static_cast<std::size_t>(extra) + 1;
  }
  return true;
}


VImage AsSrgb(VImage im) {
  return im.copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
}

// Resizes an RGBA uchar image by `scale` without dark fringes (alpha is
// premultiplied across the resample).
VImage ResizeRgba(const VImage& rgba, double hscale, double vscale) {
  VImage out =
      rgba.premultiply()
          .resize(hscale,
                  VImage::option()->set("vscale", vscale)->set("kernel", VIPS_KERNEL_LANCZOS3))
          .unpremultiply()
          .cast(VIPS_FORMAT_UCHAR);
  return AsSrgb(out);
}

// Scales an RGBA image to exactly w x h.
VImage ResizeRgbaTo(const VImage& rgba, int w, int h) {
  if (rgba.width() == w && rgba.height() == h) return rgba;
  return ResizeRgba(rgba, static_cast<double>(w) / rgba.width(),
                    static_cast<double>(h) / rgba.height());
}

// ---- Caches -----------------------------------------------------------------

struct LogoKey {
  std::size_t hash = 0;
  std::size_t size = 0;
  auto operator<=>(const LogoKey&) const = default;
};

LogoKey KeyOf(std::string_view bytes) {
  return {std::hash<std::string_view>{}(bytes), bytes.size()};
}

// Everything cached is an in-memory image (copy_memory), so sharing it across
// threads shares pixels, never a lazy pipeline.
struct Caches {
  std::mutex mu;
  std::map<LogoKey, VImage> logos;                                // decoded RGBA
  std::map<std::string, std::pair<int, int>> text_probe;          // natural text size
  std::map<std::tuple<LogoKey, std::string, int>, VImage> marks;  // mark by target width
  std::map<std::tuple<LogoKey, std::string, int, int>, VImage> tiles;
};

Caches& GetCaches() {
  static auto* caches = new Caches();  // never destroyed: workers may outlive main's statics
  return *caches;
}

template <typename Map, typename Key, typename Value>
void CachePut(Map& map, const Key& key, const Value& value) {
  std::lock_guard lock(GetCaches().mu);
  if (map.size() >= kMaxCacheEntries) map.clear();
  map.emplace(key, value);
}

template <typename Map, typename Key>
std::optional<typename Map::mapped_type> CacheGet(Map& map, const Key& key) {
  std::lock_guard lock(GetCaches().mu);
  auto it = map.find(key);
  if (it == map.end()) return std::nullopt;
  return it->second;
}

// ---- Building blocks ----------------------------------------------------------

Result<VImage> DecodeLogo(std::string_view bytes) {
  Caches& c = GetCaches();
  const LogoKey key = KeyOf(bytes);
  if (auto hit = CacheGet(c.logos, key)) return *hit;
  VImage logo;
  try {
    logo = VImage::new_from_buffer(bytes.data(), bytes.size(), "");
  } catch (const vips::VError& e) {
    vips_error_clear();
    return InvalidArgumentError("bad_watermark_logo",
                                std::string("watermark logo does not decode: ") + BoundedErrorText(e.what()));
  }
  if (static_cast<double>(logo.width()) * logo.height() > kMaxLogoPixels) {
    return InvalidArgumentError("bad_watermark_logo",
                                "watermark logo is larger than 4096x4096 pixels");
  }
  try {
    if (logo.interpretation() != VIPS_INTERPRETATION_sRGB || logo.format() != VIPS_FORMAT_UCHAR) {
      logo = logo.colourspace(VIPS_INTERPRETATION_sRGB);
    }
    if (logo.bands() == 3) logo = logo.bandjoin_const({255});
    if (logo.bands() != 4) {
      return InvalidArgumentError("bad_watermark_logo",
                                  "watermark logo must be RGB or RGBA after conversion, has " +
                                      std::to_string(logo.bands()) + " bands");
    }
    logo = AsSrgb(logo.cast(VIPS_FORMAT_UCHAR)).copy_memory();
  } catch (const vips::VError& e) {
    vips_error_clear();
    return InvalidArgumentError("bad_watermark_logo",
                                std::string("watermark logo does not decode: ") + BoundedErrorText(e.what()));
  }
  CachePut(c.logos, key, logo);
  return logo;
}

// Natural (probe) size of the text in pixels.
Result<std::pair<int, int>> ProbeText(const std::string& text) {
  Caches& c = GetCaches();
  if (auto hit = CacheGet(c.text_probe, text)) return *hit;
  VImage probe;
  try {
    // The option is plain text; pango would read it as markup.
    probe = VImage::text(EscapeXml(text).c_str(),
                         VImage::option()->set("font", kFont)->set("dpi", kProbeDpi));
  } catch (const vips::VError& e) {
    return VipsFailure(e, "rendering watermark text");
  }
  std::pair<int, int> size{probe.width(), probe.height()};
  CachePut(c.text_probe, text, size);
  return size;
}

// White text with a soft dark halo, RGBA uchar, fitted inside box_w x box_h
// (halo included).
Result<VImage> RenderText(const std::string& text, int box_w, int box_h) {
  ASSIGN_OR_RETURN(auto natural, ProbeText(text));
  try {
    // The halo pad is ~8% of the text height on each side.
    const double pad_frac = 0.08;
    const double scale =
        std::min(box_w / (natural.first * (1 + 2 * pad_frac * natural.second / natural.first)),
                 box_h / (natural.second * (1 + 2 * pad_frac)));
    const int dpi = std::max(1, static_cast<int>(std::floor(kProbeDpi * scale)));
    VImage mask = VImage::text(EscapeXml(text).c_str(),
                               VImage::option()->set("font", kFont)->set("dpi", dpi));
    const int pad = std::max(1, static_cast<int>(std::lround(mask.height() * pad_frac)));
    const int w = mask.width() + 2 * pad;
    const int h = mask.height() + 2 * pad;
    VImage cover = mask.embed(pad, pad, w, h);  // 0..255 coverage
    const double sigma = std::max(0.6, mask.height() * 0.04);
    VImage halo = (cover.gaussblur(sigma) * 2.5)
                      .cast(VIPS_FORMAT_UCHAR, VImage::option()->set("shift", false));
    halo = (halo.cast(VIPS_FORMAT_FLOAT) * 0.75);
    VImage zeros = VImage::black(w, h);
    VImage shadow = AsSrgb(VImage::bandjoin({zeros, zeros, zeros, halo}));
    VImage white = AsSrgb(VImage::bandjoin({zeros + 255, zeros + 255, zeros + 255, cover}));
    VImage rgba = AsSrgb(shadow.composite2(white, VIPS_BLEND_MODE_OVER).cast(VIPS_FORMAT_UCHAR));
    // The dpi is an integer, so the render lands near the box, not on it;
    // a resize of a few percent puts it exactly there (so a 2560 px rendition
    // carries exactly twice the 1280 px mark) and never exceeds the box.
    const double f = std::min(static_cast<double>(box_w) / rgba.width(),
                              static_cast<double>(box_h) / rgba.height());
    if (std::abs(f - 1.0) > 0.002) {
      rgba =
          ResizeRgbaTo(rgba, std::clamp(static_cast<int>(std::lround(rgba.width() * f)), 1, box_w),
                       std::clamp(static_cast<int>(std::lround(rgba.height() * f)), 1, box_h));
    }
    return rgba;
  } catch (const vips::VError& e) {
    return VipsFailure(e, "rendering watermark text");
  }
}

// The mark (logo and/or text) at `target_w` pixels wide, RGBA uchar, in memory.
Result<VImage> Mark(std::string_view logo_bytes, const std::string& text, int target_w) {
  Caches& c = GetCaches();
  const LogoKey lkey = KeyOf(logo_bytes);
  const auto key = std::make_tuple(lkey, text, target_w);
  if (auto hit = CacheGet(c.marks, key)) return *hit;

  std::optional<VImage> logo;
  if (!logo_bytes.empty()) {
    ASSIGN_OR_RETURN(VImage decoded, DecodeLogo(logo_bytes));
    const int h = std::max(1, static_cast<int>(std::lround(static_cast<double>(decoded.height()) *
                                                           target_w / decoded.width())));
    try {
      logo = ResizeRgbaTo(decoded, target_w, h);
    } catch (const vips::VError& e) {
      return VipsFailure(e, "scaling watermark logo");
    }
  }
  std::optional<VImage> label;
  if (!text.empty()) {
    // Alone, the text gets the box a 4:1 logo would; under a logo, a third of
    // the logo's height.
    const int box_h = logo ? std::max(1, logo->height() / 3) : std::max(1, target_w / 4);
    ASSIGN_OR_RETURN(VImage rendered, RenderText(text, target_w, box_h));
    label = rendered;
  }

  VImage mark;
  try {
    if (logo && label) {
      const int gap = std::max(1, logo->height() / 10);
      const int w = std::max(logo->width(), label->width());
      const int h = logo->height() + gap + label->height();
      VImage canvas = AsSrgb(VImage::black(w, h, VImage::option()->set("bands", 4)));
      canvas = canvas.insert(*logo, (w - logo->width()) / 2, 0);
      canvas = canvas.insert(*label, (w - label->width()) / 2, logo->height() + gap);
      mark = canvas;
    } else if (logo) {
      mark = *logo;
    } else if (label) {
      mark = *label;
    } else {
      return OptionsError("watermark has neither text nor logo");
    }
    mark = AsSrgb(mark.cast(VIPS_FORMAT_UCHAR)).copy_memory();
  } catch (const vips::VError& e) {
    return VipsFailure(e, "building watermark");
  }
  CachePut(c.marks, key, mark);
  return mark;
}

int MarginPx(int width, const Options& o) {
  return static_cast<int>(std::lround(o.margin * width));
}

// The mark that fits `width` x `height` under the options, or nullopt when the
// image is too small to carry one.
Result<std::optional<VImage>> FittedMark(int width, int height, const Options& o) {
  const int margin = o.position == Position::kTiled ? 0 : MarginPx(width, o);
  const int avail_w = width - 2 * margin;
  const int avail_h = height - 2 * margin;
  int target_w = std::min(avail_w, static_cast<int>(std::lround(o.size * width)));
  for (int attempt = 0; attempt < 4 && target_w >= kMinMarkWidth && avail_h >= 1; ++attempt) {
    ASSIGN_OR_RETURN(VImage mark, Mark(o.logo, o.text, target_w));
    if (mark.width() <= avail_w && mark.height() <= avail_h) return std::optional<VImage>(mark);
    const double f = std::min(static_cast<double>(avail_w) / mark.width(),
                              static_cast<double>(avail_h) / mark.height());
    const int next = static_cast<int>(std::floor(target_w * f));
    target_w = next < target_w ? next : target_w - 1;
  }
  return std::optional<VImage>();
}

image::Box GridBox(int width, int height, int mw, int mh, const Options& o) {
  const int m = MarginPx(width, o);
  const int p = static_cast<int>(o.position);
  const int col = p % 3;
  const int row = p / 3;
  const int x = col == 0 ? m : col == 1 ? (width - mw) / 2 : width - m - mw;
  const int y = row == 0 ? m : row == 1 ? (height - mh) / 2 : height - m - mh;
  return {x, y, mw, mh, 0.f};
}

VImage WithOpacity(const VImage& mark, double opacity) {
  if (opacity >= 1.0) return mark;
  return AsSrgb(
      mark.extract_band(0, VImage::option()->set("n", 3)).bandjoin(mark.extract_band(3) * opacity));
}

// Blends `overlay` (RGBA) over `base` and returns it in base's band count and
// format. An opaque (3-band) base, the usual case, takes ifthenelse's 8-bit
// blend: (a*fg + (255-a)*bg) / 255 is OVER onto an opaque base, in integer
// math instead of composite's float pipeline (about 3x less CPU over a full
// frame; within one level of composite's result). A base with alpha needs
// the full OVER, alpha included, so it goes through composite.
VImage Blend(const VImage& base, const VImage& overlay) {
  if (base.bands() == 3) {
    VImage alpha = overlay.extract_band(3);
    VImage rgb = overlay.extract_band(0, VImage::option()->set("n", 3));
    if (alpha.format() != VIPS_FORMAT_UCHAR) {
      alpha = alpha.round(VIPS_OPERATION_ROUND_RINT).cast(VIPS_FORMAT_UCHAR);
    }
    if (rgb.format() != VIPS_FORMAT_UCHAR) rgb = rgb.cast(VIPS_FORMAT_UCHAR);
    return AsSrgb(alpha.ifthenelse(rgb, base, VImage::option()->set("blend", true)));
  }
  VImage out = base.composite2(overlay, VIPS_BLEND_MODE_OVER);
  return AsSrgb(out.cast(base.format()));
}

// One tile of the diagonal pattern: two rotated marks on a staggered
// ("brick") grid, so replicating it covers the plane evenly.
Result<VImage> Tile(const VImage& mark, std::string_view logo_bytes, const std::string& text,
                    int gap) {
  Caches& c = GetCaches();
  const auto key = std::make_tuple(KeyOf(logo_bytes), text, mark.width(), gap);
  if (auto hit = CacheGet(c.tiles, key)) return *hit;
  VImage tile;
  try {
    VImage rotated = mark.premultiply().rotate(kTileAngle).unpremultiply().cast(VIPS_FORMAT_UCHAR);
    const int cw = rotated.width() + gap;
    const int ch = rotated.height() + gap;
    VImage canvas = AsSrgb(VImage::black(cw, 2 * ch, VImage::option()->set("bands", 4)));
    canvas = canvas.insert(rotated, 0, 0);
    // The second row is shifted by half a cell; the part that falls off the
    // right edge wraps to the left so the tile repeats seamlessly.
    canvas = canvas.composite2(AsSrgb(rotated), VIPS_BLEND_MODE_OVER,
                               VImage::option()->set("x", cw / 2)->set("y", ch));
    canvas = canvas.composite2(AsSrgb(rotated), VIPS_BLEND_MODE_OVER,
                               VImage::option()->set("x", cw / 2 - cw)->set("y", ch));
    tile = AsSrgb(canvas.cast(VIPS_FORMAT_UCHAR)).copy_memory();
  } catch (const vips::VError& e) {
    return VipsFailure(e, "building watermark tile");
  }
  CachePut(c.tiles, key, tile);
  return tile;
}

// Metadata is dropped from the image itself as well as by the savers'
// strip=true: libvips 8.14.1's webpsave ignores strip (see StripWebpMetadata).
VImage WithoutMetadata(const VImage& im) {
  VImage out = im.copy();  // a private image: removing fields must not touch `im`
  char** fields = vips_image_get_fields(out.get_image());
  for (char** f = fields; *f != nullptr; ++f) vips_image_remove(out.get_image(), *f);
  g_strfreev(fields);
  return out;
}

}  // namespace

const char* PositionName(Position p) {
  switch (p) {
    case Position::kTopLeft:
      return "top-left";
    case Position::kTop:
      return "top";
    case Position::kTopRight:
      return "top-right";
    case Position::kLeft:
      return "left";
    case Position::kCenter:
      return "center";
    case Position::kRight:
      return "right";
    case Position::kBottomLeft:
      return "bottom-left";
    case Position::kBottom:
      return "bottom";
    case Position::kBottomRight:
      return "bottom-right";
    case Position::kTiled:
      return "tiled";
  }
  return "bottom-right";
}

Result<Position> ParsePosition(std::string_view name) {
  std::string n;
  for (char ch : name) {
    n += ch == '_' ? '-' : static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  if (n == "centre") n = "center";
  for (int i = 0; i <= static_cast<int>(Position::kTiled); ++i) {
    const auto p = static_cast<Position>(i);
    if (n == PositionName(p)) return p;
  }
  return OptionsError("unknown watermark position \"" + std::string(name) +
                      "\" (want top-left, top, top-right, left, center, right, bottom-left, "
                      "bottom, bottom-right or tiled)");
}

Status Validate(const Options& o) {
  if (!(o.opacity >= 0.0 && o.opacity <= 1.0)) {
    return OptionsError("watermark opacity must be within 0..1, got " + std::to_string(o.opacity));
  }
  if (!(o.margin >= 0.0 && o.margin <= 0.25)) {
    return OptionsError("watermark margin must be within 0..0.25 of the width, got " +
                        std::to_string(o.margin));
  }
  if (!(o.size > 0.0 && o.size <= 1.0)) {
    return OptionsError("watermark size must be within (0, 1] of the width, got " +
                        std::to_string(o.size));
  }
  if (o.text.size() > kMaxTextBytes) {
    return OptionsError("watermark text is longer than 512 bytes");
  }
  if (!IsValidUtf8(o.text)) {
    return OptionsError("watermark text must be UTF-8 without control characters");
  }
  if (o.text.empty() && o.logo.empty() && o.opacity > 0) {
    return OptionsError("watermark has neither text nor logo");
  }
  return Status::Ok();
}

Result<std::vector<image::Box>> Placement(int width, int height, const Options& o) {
  RETURN_IF_ERROR(Validate(o));
  std::vector<image::Box> boxes;
  if (o.opacity <= 0 || width < 1 || height < 1) return boxes;
  if (o.position == Position::kTiled) {
    boxes.push_back({0, 0, width, height, 0.f});
    return boxes;
  }
  image::InitVips();
  ASSIGN_OR_RETURN(auto mark, FittedMark(width, height, o));
  if (mark) boxes.push_back(GridBox(width, height, mark->width(), mark->height(), o));
  return boxes;
}

Result<VImage> Apply(const VImage& in, const Options& o) {
  RETURN_IF_ERROR(Validate(o));
  if (o.opacity <= 0) return in;
  image::InitVips();
  VImage base = in;
  try {
    if (base.interpretation() != VIPS_INTERPRETATION_sRGB || base.format() != VIPS_FORMAT_UCHAR ||
        (base.bands() != 3 && base.bands() != 4)) {
      base = base.colourspace(VIPS_INTERPRETATION_sRGB).cast(VIPS_FORMAT_UCHAR);
    }
    if (base.bands() != 3 && base.bands() != 4) {
      return InvalidArgumentError(
          "bad_watermark_input",
          "cannot watermark an image with " + std::to_string(base.bands()) + " bands");
    }
  } catch (const vips::VError& e) {
    return VipsFailure(e, "converting image to sRGB for the watermark");
  }
  const int width = base.width();
  const int height = base.height();
  ASSIGN_OR_RETURN(auto fitted, FittedMark(width, height, o));
  if (!fitted) return base;

  try {
    if (o.position == Position::kTiled) {
      const int gap = std::max(MarginPx(width, o), fitted->width() / 3);
      ASSIGN_OR_RETURN(VImage tile, Tile(*fitted, o.logo, o.text, gap));
      const int across = width / tile.width() + 2;
      const int down = height / tile.height() + 2;
      // Start a quarter tile in so the pattern does not begin flush with the
      // top-left corner.
      // Opacity is applied to the one tile, in memory, so replicate copies
      // finished pixels instead of re-running the multiply for every repeat.
      VImage faded = AsSrgb(WithOpacity(tile, o.opacity).cast(VIPS_FORMAT_UCHAR)).copy_memory();
      VImage layer =
          faded.replicate(across, down).crop(tile.width() / 4, tile.height() / 4, width, height);
      return Blend(base, layer);
    }
    const image::Box box = GridBox(width, height, fitted->width(), fitted->height(), o);
    VImage patch = base.crop(box.x, box.y, box.width, box.height);
    VImage blended = Blend(patch, WithOpacity(*fitted, o.opacity));
    return base.insert(blended, box.x, box.y);
  } catch (const vips::VError& e) {
    return VipsFailure(e, "blending watermark");
  }
}

Result<Encoded> ApplyToJpegBlocks(std::string_view jpeg, const Options& o, bool optimize_coding) {
  RETURN_IF_ERROR(Validate(o));
  if (o.position == Position::kTiled) {
    return InvalidArgumentError("unsupported_jpeg", "a tiled mark covers the whole frame");
  }
  const std::optional<image::JpegLayout> layout = image::EditableJpegLayout(jpeg);
  if (!layout) {
    return InvalidArgumentError("unsupported_jpeg", "not an 8-bit YCbCr JPEG");
  }
  image::InitVips();
  Encoded result;
  result.width = layout->width;
  result.height = layout->height;
  std::optional<VImage> mark;
  if (o.opacity > 0) {
    ASSIGN_OR_RETURN(mark, FittedMark(layout->width, layout->height, o));
  }
  // No mark (opacity 0, an image too small to carry one): an empty box
  // rewrites the coefficients as they are.
  const image::Box box =
      mark ? GridBox(layout->width, layout->height, mark->width(), mark->height(), o)
           : image::Box{};
  auto blend = [&](const image::RgbRegion& r) -> Status {
    try {
      const size_t stride = static_cast<size_t>(r.width) * 3;
      VImage region = AsSrgb(VImage::new_from_memory(r.pixels, stride * static_cast<size_t>(r.height),
                                                     r.width, r.height, 3, VIPS_FORMAT_UCHAR));
      VImage patch = region.crop(box.x - r.x, box.y - r.y, box.width, box.height);
      VImage blended = Blend(patch, WithOpacity(*mark, o.opacity)).cast(VIPS_FORMAT_UCHAR);
      size_t len = 0;
      auto* pixels = static_cast<std::uint8_t*>(blended.write_to_memory(&len));
      const size_t row = static_cast<size_t>(box.width) * 3;
      for (int y = 0; y < box.height; ++y) {
        std::memcpy(r.pixels + static_cast<size_t>(box.y - r.y + y) * stride +
                        static_cast<size_t>(box.x - r.x) * 3,
                    pixels + static_cast<size_t>(y) * row, row);
      }
      g_free(pixels);
      return Status::Ok();
    } catch (const vips::VError& e) {
      return VipsFailure(e, "blending watermark");
    }
  };
  ASSIGN_OR_RETURN(result.bytes, image::EditJpegRegion(jpeg, box, blend,
                                                       {.optimize_coding = optimize_coding}));
  return result;
}

Result<Encoded> ApplyToEncoded(std::string_view encoded, image::OutputFormat format, int quality,
                               const Options& options, JpegMarking marking) {
  if (quality < 1 || quality > 100) {
    return OptionsError("quality must be within 1..100, got " + std::to_string(quality));
  }
  if (marking != JpegMarking::kPixels && format == image::OutputFormat::kJpeg &&
      options.position != Position::kTiled && image::EditableJpegLayout(encoded)) {
    return ApplyToJpegBlocks(encoded, options, marking == JpegMarking::kBlocksOptimized);
  }
  image::InitVips();
  VImage in;
  try {
    in = VImage::new_from_buffer(encoded.data(), encoded.size(), "");
    // Decode now: a truncated file must fail here as corrupt_image, not later
    // as an encode failure.
    in = WithoutMetadata(in.copy_memory());
  } catch (const vips::VError& e) {
    vips_error_clear();
    return InvalidArgumentError("corrupt_image",
                                std::string("rendition does not decode: ") + BoundedErrorText(e.what()));
  }
  ASSIGN_OR_RETURN(VImage out, Apply(in, options));
  try {
    Encoded result;
    result.width = out.width();
    result.height = out.height();
    // JPEG has no alpha: flatten onto white, as the resize stage does.
    if (format == image::OutputFormat::kJpeg && out.bands() == 4) {
      out = AsSrgb(out.flatten(VImage::option()->set("background", std::vector<double>{255, 255, 255}))
                       .cast(VIPS_FORMAT_UCHAR));
    }
    // The shared encoder: a watermarked rendition is encoded like its clean sibling.
    result.bytes = image::EncodeVips(out, format, quality);
    return result;
  } catch (const vips::VError& e) {
    std::string msg = std::string("encoding watermarked rendition: ") + BoundedErrorText(e.what());
    vips_error_clear();
    return InternalError("encode_failed", std::move(msg));
  }
}

std::string_view DefaultLogoPng() {
  return {reinterpret_cast<const char*>(photo_watermark_default_logo_png),
          static_cast<std::size_t>(photo_watermark_default_logo_png_size)};
}

void ClearCaches() {
  Caches& c = GetCaches();
  std::lock_guard lock(c.mu);
  c.logos.clear();
  c.text_probe.clear();
  c.marks.clear();
  c.tiles.clear();
}

}  // namespace photo::watermark
