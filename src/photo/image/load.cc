#include "photo/image/load.h"

#include "photo/core/text.h"

namespace photo::image::internal {
namespace {

// Owns one reference to a VipsBlob that wraps (does not copy) caller memory.
class BlobRef {
 public:
  explicit BlobRef(std::string_view bytes)
      : blob_(vips_blob_new(nullptr, bytes.data(), bytes.size())) {}
  ~BlobRef() { vips_area_unref(reinterpret_cast<VipsArea*>(blob_)); }
  BlobRef(const BlobRef&) = delete;
  BlobRef& operator=(const BlobRef&) = delete;
  VipsBlob* get() const { return blob_; }

 private:
  VipsBlob* blob_;
};

}  // namespace

vips::VImage LoadBuffer(Format format, std::string_view bytes, vips::VOption* options) {
  BlobRef blob(bytes);
  switch (format) {
    case Format::kJpeg: return vips::VImage::jpegload_buffer(blob.get(), options);
    case Format::kPng: return vips::VImage::pngload_buffer(blob.get(), options);
    case Format::kWebp: return vips::VImage::webpload_buffer(blob.get(), options);
    case Format::kGif: return vips::VImage::gifload_buffer(blob.get(), options);
    case Format::kTiff: return vips::VImage::tiffload_buffer(blob.get(), options);
    case Format::kHeif:
    case Format::kAvif: return vips::VImage::heifload_buffer(blob.get(), options);
  }
  throw vips::VError("no loader for format");
}

std::string VipsErrorText(const vips::VError& e) {
  std::string text = BoundedErrorText(e.what());
  vips_error_clear();
  return text;
}

const char* InterpretationName(VipsInterpretation interpretation) {
  const char* nick = vips_enum_nick(VIPS_TYPE_INTERPRETATION, interpretation);
  return nick != nullptr ? nick : "unknown";
}

}  // namespace photo::image::internal
