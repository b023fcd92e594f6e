#include "photo/image/resize.h"

#include "photo/image/encode.h"

#include <sys/mman.h>
#include <turbojpeg.h>
#include <vips/vips8>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include <algorithm>
#include <cmath>
#include <cctype>
#include <cstring>
#include <memory>
#include <new>
#include <numeric>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "photo/core/text.h"
#include "photo/image/jpeg_region.h"
#include "photo/image/load.h"
#include "photo/image/probe.h"
#include "photo/image/vips.h"

namespace photo::image {
namespace {

using vips::VImage;

// ---------------------------------------------------------------------------
// Pixel memory. Measured on the target VM: first-touching fresh anonymous
// memory costs ~13 us per 4 KiB page, so a plain 36 MB decode buffer adds
// ~110 ms of page faults to a 45 ms decode. Transparent huge pages (the
// kernel is in `madvise` mode) bring that to ~0; big buffers therefore come
// from 2 MiB-aligned mmap with MADV_HUGEPAGE.
class PixelBuffer {
 public:
  PixelBuffer() = default;
  PixelBuffer(int width, int height, int bands)
      : width_(width), height_(height), bands_(bands) {
    size_ = static_cast<size_t>(width) * static_cast<size_t>(height) * static_cast<size_t>(bands);
    if (size_ < kHugeThreshold) {
      small_.reset(new std::uint8_t[std::max<size_t>(size_, 1)]);
      data_ = small_.get();
      return;
    }
    map_size_ = ((size_ + kHuge - 1) / kHuge) * kHuge + kHuge;
    // The smallest mapping this thread released for an earlier image that is
    // big enough: its huge pages are already faulted in and zeroed, and the
    // bigger ones stay for the next image's bigger buffers.
    auto& cache = Cache();
    auto fit = cache.end();
    for (auto it = cache.begin(); it != cache.end(); ++it) {
      if (it->size >= map_size_ && (fit == cache.end() || it->size < fit->size)) fit = it;
    }
    void* p = nullptr;
    if (fit != cache.end()) {
      p = fit->addr;
      map_size_ = fit->size;
      cache.erase(fit);
    } else {
      p = mmap(nullptr, map_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();
    }
    map_ = p;
    auto aligned = (reinterpret_cast<std::uintptr_t>(p) + kHuge - 1) & ~std::uintptr_t{kHuge - 1};
    data_ = reinterpret_cast<std::uint8_t*>(aligned);
    if (fit == cache.end()) {
      madvise(data_, map_size_ - (aligned - reinterpret_cast<std::uintptr_t>(p)), MADV_HUGEPAGE);
    }
  }
  ~PixelBuffer() { Release(); }
  PixelBuffer(PixelBuffer&& o) noexcept { *this = std::move(o); }
  PixelBuffer& operator=(PixelBuffer&& o) noexcept {
    if (this != &o) {
      Release();
      width_ = std::exchange(o.width_, 0);
      height_ = std::exchange(o.height_, 0);
      bands_ = std::exchange(o.bands_, 0);
      size_ = std::exchange(o.size_, 0);
      map_size_ = std::exchange(o.map_size_, 0);
      map_ = std::exchange(o.map_, nullptr);
      small_ = std::move(o.small_);
      data_ = std::exchange(o.data_, nullptr);
    }
    return *this;
  }
  PixelBuffer(const PixelBuffer&) = delete;
  PixelBuffer& operator=(const PixelBuffer&) = delete;

  int width() const { return width_; }
  int height() const { return height_; }
  int bands() const { return bands_; }
  size_t size() const { return size_; }
  std::uint8_t* data() const { return data_; }
  cv::Mat mat() const { return cv::Mat(height_, width_, CV_8UC(bands_), data_); }

 private:
  static constexpr size_t kHuge = 2u << 20;
  static constexpr size_t kHugeThreshold = 1u << 20;
  // Per thread, up to kCacheEntries released mappings totalling at most
  // kCacheBytes stay mapped for the next image (a 12 MP decode buffer, the
  // residual resize's 2x intermediate, the 2560 and 1280 px renditions):
  // zeroing fresh huge pages cost ~10 ms of a 12 MP resize here. The memory
  // is the worker's steady working set anyway.
  static constexpr size_t kCacheEntries = 4;
  static constexpr size_t kCacheBytes = 160u << 20;
  struct Mapping {
    void* addr;
    size_t size;
  };
  struct MappingCache : std::vector<Mapping> {
    ~MappingCache() {
      for (const Mapping& m : *this) munmap(m.addr, m.size);
    }
  };
  static MappingCache& Cache() {
    thread_local MappingCache cache;
    return cache;
  }
  void Release() noexcept {
    if (map_ == nullptr) return;
    auto& cache = Cache();
    size_t cached = map_size_;
    for (const Mapping& m : cache) cached += m.size;
    if (cache.size() < kCacheEntries && cached <= kCacheBytes) {
      try {
        cache.push_back({map_, map_size_});
        map_ = nullptr;
        return;
      } catch (const std::bad_alloc&) {
      }
    }
    munmap(map_, map_size_);
    map_ = nullptr;
  }
  int width_ = 0, height_ = 0, bands_ = 0;
  size_t size_ = 0, map_size_ = 0;
  void* map_ = nullptr;
  std::unique_ptr<std::uint8_t[]> small_;
  std::uint8_t* data_ = nullptr;
};

Status Corrupt(std::string message) {
  return InvalidArgumentError("corrupt_image", std::move(message));
}

// ---------------------------------------------------------------------------
// Pixel operations on 8-bit interleaved buffers.

// Area-filtered resize (a box filter for fractional factors: every source
// pixel counts, so no aliasing; the quality of a good thumbnailer at the
// cost of a few ms). Alpha is premultiplied around the filter so transparent
// pixels do not bleed their (arbitrary) colour into the edges.
void PremultiplyInPlace(PixelBuffer& p) {
  std::uint8_t* d = p.data();
  size_t n = static_cast<size_t>(p.width()) * static_cast<size_t>(p.height());
  for (size_t i = 0; i < n; ++i, d += 4) {
    unsigned a = d[3];
    for (int c = 0; c < 3; ++c) d[c] = static_cast<std::uint8_t>((d[c] * a + 127) / 255);
  }
}
void UnpremultiplyInPlace(PixelBuffer& p) {
  std::uint8_t* d = p.data();
  size_t n = static_cast<size_t>(p.width()) * static_cast<size_t>(p.height());
  for (size_t i = 0; i < n; ++i, d += 4) {
    unsigned a = d[3];
    if (a == 0 || a == 255) continue;
    for (int c = 0; c < 3; ++c) d[c] = static_cast<std::uint8_t>(std::min(255u, (d[c] * 255 + a / 2) / a));
  }
}

// The residual step after DCT scaling (factor < 2): bilinear. Measured
// against libvips' lanczos3 on real camera photos at 1.3-1.6x, INTER_LINEAR
// and INTER_AREA are equally close (53.4 vs 53.4 dB on an 8 MP phone photo,
// 51.8 vs 50.9 dB on a 4K one) while LINEAR costs 10 ms instead of 67 ms on
// 12 MP. Above 1.6x (and on synthetic grain) the area filter is visibly
// better, so it is used there. Between 1.6x and 2x OpenCV's area filter
// takes its slow fractional path (~60 ms on 13 MP); bilinear up to twice the
// target, then its exact 2x area path, is as close to lanczos3 (within
// 0.4 dB on camera photos, closer on grain) for ~55 % of the CPU
// (docs/stages/resize.md). `upsampled_area` = false keeps the plain area
// filter (the benchmarks' "before").
PixelBuffer ResizeResidual(const PixelBuffer& src, int width, int height, bool upsampled_area);

PixelBuffer ResizeArea(const PixelBuffer& src, int width, int height) {
  PixelBuffer out(width, height, src.bands());
  if (width == src.width() && height == src.height()) {
    std::memcpy(out.data(), src.data(), src.size());
    return out;
  }
  cv::Mat dst = out.mat();
  if (src.bands() == 4) {
    PixelBuffer pre(src.width(), src.height(), 4);
    std::memcpy(pre.data(), src.data(), src.size());
    PremultiplyInPlace(pre);
    cv::resize(pre.mat(), dst, dst.size(), 0, 0, cv::INTER_AREA);
    UnpremultiplyInPlace(out);
  } else {
    cv::resize(src.mat(), dst, dst.size(), 0, 0, cv::INTER_AREA);
  }
  return out;
}

PixelBuffer ResizeResidual(const PixelBuffer& src, int width, int height, bool upsampled_area) {
  double factor = std::max(static_cast<double>(src.width()) / width,
                           static_cast<double>(src.height()) / height);
  if (src.bands() == 4) return ResizeArea(src, width, height);
  PixelBuffer out(width, height, src.bands());
  cv::Mat dst = out.mat();
  if (factor < 1.6) {
    cv::resize(src.mat(), dst, dst.size(), 0, 0, cv::INTER_LINEAR);
  } else if (factor < 2 && upsampled_area) {
    PixelBuffer twice(2 * width, 2 * height, src.bands());
    cv::Mat mid = twice.mat();
    cv::resize(src.mat(), mid, mid.size(), 0, 0, cv::INTER_LINEAR);
    cv::resize(mid, dst, dst.size(), 0, 0, cv::INTER_AREA);
  } else {
    cv::resize(src.mat(), dst, dst.size(), 0, 0, cv::INTER_AREA);
  }
  return out;
}

// Applies EXIF orientation 2..8 (stored -> displayed).
PixelBuffer Orient(PixelBuffer src, int orientation) {
  if (orientation <= 1 || orientation > 8) return src;
  bool swap = orientation >= 5;
  PixelBuffer out(swap ? src.height() : src.width(), swap ? src.width() : src.height(),
                  src.bands());
  cv::Mat in = src.mat();
  cv::Mat dst = out.mat();
  switch (orientation) {
    case 2: cv::flip(in, dst, 1); break;
    case 3: cv::rotate(in, dst, cv::ROTATE_180); break;
    case 4: cv::flip(in, dst, 0); break;
    case 5: cv::transpose(in, dst); break;
    case 6: cv::rotate(in, dst, cv::ROTATE_90_CLOCKWISE); break;
    case 7:
      cv::transpose(in, dst);
      cv::flip(dst, dst, -1);
      break;
    case 8: cv::rotate(in, dst, cv::ROTATE_90_COUNTERCLOCKWISE); break;
    default: break;
  }
  return out;
}

// RGBA -> RGB over white, for encoders without alpha.
PixelBuffer FlattenWhite(const PixelBuffer& src) {
  PixelBuffer out(src.width(), src.height(), 3);
  const std::uint8_t* s = src.data();
  std::uint8_t* d = out.data();
  size_t n = static_cast<size_t>(src.width()) * static_cast<size_t>(src.height());
  for (size_t i = 0; i < n; ++i, s += 4, d += 3) {
    unsigned a = s[3];
    for (int c = 0; c < 3; ++c) d[c] = static_cast<std::uint8_t>((s[c] * a + 255 * (255 - a) + 127) / 255);
  }
  return out;
}

// Wraps (does not copy) a buffer as a libvips image; `p` must outlive it.
VImage AsVips(const PixelBuffer& p) {
  return VImage::new_from_memory(p.data(), p.size(), p.width(), p.height(), p.bands(),
                                 VIPS_FORMAT_UCHAR)
      .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
}

PixelBuffer FromVips(const VImage& image) {
  VImage in = image.copy_memory();
  PixelBuffer out(in.width(), in.height(), in.bands());
  std::memcpy(out.data(), in.data(), out.size());
  return out;
}

// Converts an ICC-tagged 8-bit RGB buffer to sRGB through lcms.
PixelBuffer IccToSrgb(const PixelBuffer& p, const void* icc, size_t icc_len) {
  VImage img = AsVips(p).copy();
  img.set(VIPS_META_ICC_NAME, nullptr, const_cast<void*>(icc), icc_len);
  VImage srgb = img.icc_transform("srgb", VImage::option()
                                              ->set("embedded", true)
                                              ->set("input_profile", "srgb")
                                              ->set("intent", VIPS_INTENT_RELATIVE)
                                              ->set("depth", 8));
  return FromVips(srgb.cast(VIPS_FORMAT_UCHAR));
}

// ---------------------------------------------------------------------------
// Decoders. Both return the largest rendition's pixels: upright, 8-bit sRGB,
// 3 or 4 bands, exactly `target` (display) size.

struct TjDeleter {
  void operator()(void* h) const { tjDestroy(h); }
};

// libjpeg-turbo directly: 2-4x cheaper than libvips' jpegload here (no
// line-cache threads, DCT scaling picked to the target), and we decode into
// huge-page memory. nullopt = not for this path (CMYK/YCCK: libvips handles
// Adobe's inverted CMYK and the CMYK profile).
Result<std::optional<PixelBuffer>> DecodeJpegTurbo(std::string_view bytes, const ProbeInfo& info,
                                                   Size target, bool upsampled_area) {
  std::unique_ptr<void, TjDeleter> tj(tjInitDecompress());
  if (!tj) return InternalError("internal", "tjInitDecompress failed");
  auto* jpeg = reinterpret_cast<unsigned char*>(const_cast<char*>(bytes.data()));
  int w = 0, h = 0, subsamp = 0, colorspace = 0;
  if (tjDecompressHeader3(tj.get(), jpeg, static_cast<unsigned long>(bytes.size()), &w, &h,
                          &subsamp, &colorspace) != 0) {
    return Corrupt(std::string("jpeg: ") + tjGetErrorStr2(tj.get()));
  }
  if (colorspace == TJCS_CMYK || colorspace == TJCS_YCCK) return std::optional<PixelBuffer>();

  bool swap = info.orientation >= 5;
  int stored_tw = swap ? target.height : target.width;
  int stored_th = swap ? target.width : target.height;
  // Largest power-of-two DCT shrink (SIMD paths) that still covers the target.
  int denom = 1;
  for (int d : {8, 4, 2}) {
    if ((w + d - 1) / d >= stored_tw && (h + d - 1) / d >= stored_th) {
      denom = d;
      break;
    }
  }
  int dw = (w + denom - 1) / denom;
  int dh = (h + denom - 1) / denom;
  PixelBuffer decoded(dw, dh, 3);
  int flags = TJFLAG_LIMITSCANS;  // refuse progressive files with >500 scans (CPU bomb)
  if (tjDecompress2(tj.get(), jpeg, static_cast<unsigned long>(bytes.size()), decoded.data(), dw,
                    0, dh, TJPF_RGB, flags) != 0) {
    std::string err = tjGetErrorStr2(tj.get());
    // Some warnings (e.g. extraneous bytes before a marker, common in camera
    // files) leave a complete image; missing or garbled entropy data
    // (premature end of file or segment, bad Huffman code) leaves grey rows,
    // which we refuse rather than publish.
    std::string lower = err;
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (tjGetErrorCode(tj.get()) != TJERR_WARNING ||
        lower.find("premature end") != std::string::npos ||
        lower.find("bad huffman") != std::string::npos) {
      return Corrupt("jpeg: " + err);
    }
  }
  PixelBuffer sized = (dw == stored_tw && dh == stored_th)
                          ? std::move(decoded)
                          : ResizeResidual(decoded, stored_tw, stored_th, upsampled_area);
  PixelBuffer upright = Orient(std::move(sized), info.orientation);
  if (info.has_icc) {
    VImage header = internal::LoadBuffer(Format::kJpeg, bytes);
    size_t len = 0;
    const void* icc = header.get_blob(VIPS_META_ICC_NAME, &len);
    upright = IccToSrgb(upright, icc, len);
  }
  return std::optional<PixelBuffer>(std::move(upright));
}

// libvips for everything else: load (shrinking on load where the format can),
// convert to 8-bit sRGB, resample while streaming, then materialise only the
// target-sized result.
PixelBuffer DecodeVips(std::string_view bytes, const ProbeInfo& info, Size target) {
  bool swap = info.orientation >= 5;
  int stored_tw = swap ? target.height : target.width;
  int stored_th = swap ? target.width : target.height;
  vips::VOption* opt = VImage::option()
                           ->set("access", VIPS_ACCESS_SEQUENTIAL)
                           ->set("fail_on", VIPS_FAIL_ON_TRUNCATED);
  if (info.format == Format::kJpeg) {
    int shrink = 1;
    for (int d : {8, 4, 2}) {
      if ((info.width + d - 1) / d >= stored_tw && (info.height + d - 1) / d >= stored_th) {
        shrink = d;
        break;
      }
    }
    opt->set("shrink", shrink);
  } else if (info.format == Format::kWebp && stored_tw < info.width) {
    // libwebp scales while decoding; ask for a little more than the target
    // and let the resampler below land on the exact size.
    double scale = std::min(1.0, 1.25 * std::max(static_cast<double>(stored_tw) / info.width,
                                                static_cast<double>(stored_th) / info.height));
    opt->set("scale", scale);
  }
  VImage img = internal::LoadBuffer(info.format, bytes, opt);

  // Colour: to sRGB, 8 bits, keeping any alpha as an extra band.
  VipsInterpretation interp = img.interpretation();
  bool cmyk = interp == VIPS_INTERPRETATION_CMYK;
  if (cmyk || img.get_typeof(VIPS_META_ICC_NAME) != 0) {
    img = img.icc_transform("srgb", VImage::option()
                                        ->set("embedded", true)
                                        ->set("input_profile", cmyk ? "cmyk" : "srgb")
                                        ->set("intent", VIPS_INTENT_RELATIVE)
                                        ->set("depth", 8));
  } else if (interp != VIPS_INTERPRETATION_sRGB) {
    img = img.colourspace(VIPS_INTERPRETATION_sRGB);
  }
  if (img.format() == VIPS_FORMAT_USHORT) img = img / 257;
  if (img.bands() > 4) img = img.extract_band(0, VImage::option()->set("n", 4));
  if (img.bands() == 2) img = VImage::bandjoin({img[0], img[0], img[0], img[1]});
  if (img.bands() == 1) img = VImage::bandjoin({img, img, img});
  img = img.cast(VIPS_FORMAT_UCHAR);

  if (img.width() != stored_tw || img.height() != stored_th) {
    bool alpha = img.bands() == 4;
    VImage work = alpha ? img.premultiply() : img;
    work = work.resize(static_cast<double>(stored_tw) / img.width(),
                       VImage::option()->set("vscale",
                                             static_cast<double>(stored_th) / img.height()));
    if (alpha) work = work.unpremultiply();
    img = work.cast(VIPS_FORMAT_UCHAR);
  }
  PixelBuffer stored = FromVips(img);
  if (stored.width() != stored_tw || stored.height() != stored_th) {
    stored = ResizeArea(stored, stored_tw, stored_th);  // resize() rounding
  }
  return Orient(std::move(stored), info.orientation);
}

// ---------------------------------------------------------------------------
// Encoders. strip=true drops EXIF (and with it GPS), XMP, IPTC and ICC.

std::string Encode(const PixelBuffer& pixels, const RenditionSpec& spec, EncodeEffort effort,
                   bool row_restarts) {
  const PixelBuffer* src = &pixels;
  PixelBuffer flat;
  if (pixels.bands() == 4 && spec.format == OutputFormat::kJpeg) {
    flat = FlattenWhite(pixels);
    src = &flat;
  }
  if (spec.format == OutputFormat::kJpeg && effort == EncodeEffort::kIntermediate) {
    return row_restarts
               ? EncodeJpegRowRestarts(src->data(), src->width(), src->height(), spec.quality)
               : EncodeJpegTurbo(src->data(), src->width(), src->height(), spec.quality);
  }
  return EncodeVips(AsVips(*src), spec.format, spec.quality, effort);
}

}  // namespace

Size FitLongEdge(int width, int height, int long_edge) {
  int long_side = std::max(width, height);
  if (long_side <= long_edge || long_side <= 0) return {width, height};
  double scale = static_cast<double>(long_edge) / long_side;
  auto fit = [&](int side) {
    return side == long_side ? long_edge
                             : std::max(1, static_cast<int>(std::lround(side * scale)));
  };
  return {fit(width), fit(height)};
}

Status ValidateRenditionSpecs(std::span<const RenditionSpec> specs) {
  auto bad = [](std::string m) { return InvalidArgumentError("invalid_config", std::move(m)); };
  if (specs.empty()) return bad("no renditions configured");
  std::set<std::string> names;
  for (const RenditionSpec& s : specs) {
    // "similar" is the route GET /images/{id}/similar, which would hide it.
    if (s.name.empty() || s.name == "original" || s.name == "similar" ||
        s.name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-") != std::string::npos) {
      return bad("rendition name must be [a-z0-9_-]+ and not 'original' or 'similar': '" + s.name +
                 "'");
    }
    if (!names.insert(s.name).second) return bad("duplicate rendition name '" + s.name + "'");
    if (s.long_edge < 16 || s.long_edge > 16384) {
      return bad("rendition '" + s.name + "': long edge must be 16..16384");
    }
    if (s.quality < 1 || s.quality > 100) {
      return bad("rendition '" + s.name + "': quality must be 1..100");
    }
  }
  return Status::Ok();
}

Result<RenditionSet> MakeRenditions(std::string_view bytes, std::span<const RenditionSpec> specs,
                                    const Limits& limits, const MakeOptions& options) {
  RETURN_IF_ERROR(ValidateRenditionSpecs(specs));
  ASSIGN_OR_RETURN(ProbeInfo info, ProbeBuffer(bytes, limits));
  InitVips();
  RenditionSet set;
  set.source = info;
  const int dw = info.display_width();
  const int dh = info.display_height();
  // Largest first, each derived from the previous (smaller inputs, and an
  // area filter composes well).
  std::vector<size_t> order(specs.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return specs[a].long_edge > specs[b].long_edge; });
  vips_error_clear();  // process-wide and cumulative: messages about this input only (probe.cc)
  try {
    Size top = FitLongEdge(dw, dh, specs[order.front()].long_edge);
    std::optional<PixelBuffer> largest;
    if (info.format == Format::kJpeg) {
      ASSIGN_OR_RETURN(largest, DecodeJpegTurbo(bytes, info, top, options.upsampled_area));
    }
    if (!largest) largest = DecodeVips(bytes, info, top);

    set.renditions.resize(specs.size());
    PixelBuffer current = std::move(*largest);
    const EncodedRendition* previous = nullptr;
    const RenditionSpec* previous_spec = nullptr;
    for (size_t idx : order) {
      const RenditionSpec& spec = specs[idx];
      Size size = FitLongEdge(dw, dh, spec.long_edge);
      if (size.width != current.width() || size.height != current.height()) {
        current = ResizeArea(current, size.width, size.height);
      }
      const bool intermediate = options.watermark_inputs_are_intermediate && spec.watermark;
      EncodedRendition& out = set.renditions[idx];
      out.name = spec.name;
      out.format = spec.format;
      out.width = current.width();
      out.height = current.height();
      // A source smaller than two targets gives them the same pixels (never
      // upscaled): encode once, at the better of the two qualities.
      if (previous != nullptr && previous->width == out.width &&
          previous->height == out.height && previous_spec->format == spec.format &&
          previous_spec->quality >= spec.quality && previous_spec->watermark == spec.watermark) {
        out.bytes = previous->bytes;
        continue;
      }
      try {
        out.bytes = Encode(current, spec,
                           intermediate ? EncodeEffort::kIntermediate : EncodeEffort::kFinal,
                           options.jpeg_row_restarts);
        previous = &out;
        previous_spec = &spec;
      } catch (const vips::VError& e) {
        return InternalError("internal", std::string(OutputFormatName(spec.format)) +
                                             " encode failed: " + internal::VipsErrorText(e));
      } catch (const std::runtime_error& e) {
        return InternalError("internal", BoundedErrorText(e.what()));
      }
    }
  } catch (const vips::VError& e) {
    return Corrupt(std::string(FormatName(info.format)) +
                   " decode failed: " + internal::VipsErrorText(e));
  } catch (const cv::Exception& e) {
    return InternalError("internal", std::string("opencv: ") + BoundedErrorText(e.what()));
  } catch (const std::bad_alloc&) {
    return InternalError("internal", "out of memory while resizing");
  }
  return set;
}

}  // namespace photo::image
