#include "photo/image/probe.h"
#include "photo/image/vips.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "photo/core/text.h"
#include "photo/image/load.h"
#include "photo/image/testing/synth.h"

namespace photo::image {
namespace {

using testing::SynthFormat;
using testing::SynthOptions;

std::string Photo(SynthFormat f, int w = 120, int h = 80) {
  SynthOptions o;
  o.width = w;
  o.height = h;
  o.format = f;
  return testing::MakePhoto(o);
}

void ExpectReason(const Result<ProbeInfo>& r, const std::string& reason, StatusCode code) {
  ASSERT_FALSE(r.has_value()) << "expected " << reason;
  EXPECT_EQ(r.error().reason(), reason) << r.error().ToString();
  EXPECT_EQ(r.error().code(), code) << r.error().ToString();
}

TEST(ProbeTest, EveryAcceptedFormatIsRecognisedWithItsSize) {
  struct Case {
    SynthFormat synth;
    Format format;
  };
  for (Case c : {Case{SynthFormat::kJpeg, Format::kJpeg}, Case{SynthFormat::kPng, Format::kPng},
                 Case{SynthFormat::kWebp, Format::kWebp}, Case{SynthFormat::kTiff, Format::kTiff},
                 Case{SynthFormat::kGif, Format::kGif}, Case{SynthFormat::kHeif, Format::kHeif},
                 Case{SynthFormat::kAvif, Format::kAvif}}) {
    std::string bytes = Photo(c.synth);
    Result<ProbeInfo> r = ProbeBuffer(bytes, Limits{});
    ASSERT_TRUE(r.has_value()) << FormatName(c.format) << ": " << r.error().ToString();
    EXPECT_EQ(r->format, c.format);
    EXPECT_EQ(r->width, 120) << FormatName(c.format);
    EXPECT_EQ(r->height, 80) << FormatName(c.format);
    EXPECT_EQ(r->frames, 1) << FormatName(c.format);
    EXPECT_EQ(r->bytes, bytes.size());
  }
}

TEST(ProbeTest, HeaderFacts) {
  Result<ProbeInfo> cmyk = ProbeBuffer(testing::MakeCmykJpeg(64, 48), Limits{});
  ASSERT_TRUE(cmyk.has_value());
  EXPECT_EQ(cmyk->interpretation, "cmyk");
  EXPECT_EQ(cmyk->bands, 4);
  EXPECT_TRUE(cmyk->has_icc);
  EXPECT_FALSE(cmyk->has_alpha);

  Result<ProbeInfo> rgba = ProbeBuffer(testing::MakeRgbaPng(64, 48), Limits{});
  ASSERT_TRUE(rgba.has_value());
  EXPECT_TRUE(rgba->has_alpha);

  Result<ProbeInfo> grey16 = ProbeBuffer(testing::MakePng16(64, 48, true), Limits{});
  ASSERT_TRUE(grey16.has_value());
  EXPECT_EQ(grey16->interpretation, "grey16");

  Result<ProbeInfo> rotated = ProbeBuffer(testing::MakeOrientedJpeg(6, 100, 60), Limits{});
  ASSERT_TRUE(rotated.has_value());
  EXPECT_EQ(rotated->orientation, 6);
  EXPECT_EQ(rotated->width, 60);  // stored
  EXPECT_EQ(rotated->display_width(), 100);

  Result<ProbeInfo> gif = ProbeBuffer(testing::MakeAnimatedGif(32, 24, 4), Limits{});
  ASSERT_TRUE(gif.has_value());
  EXPECT_EQ(gif->frames, 4);
  EXPECT_EQ(gif->height, 24);
}

TEST(ProbeTest, FormatIsDecidedByBytesNotName) {
  auto dir = std::filesystem::temp_directory_path() / ("probe_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto write = [&](const std::string& name, const std::string& bytes) {
    std::ofstream(dir / name, std::ios::binary) << bytes;
    return dir / name;
  };
  Result<ProbeInfo> jpeg_named_png = ProbeFile(write("photo.png", Photo(SynthFormat::kJpeg)), {});
  ASSERT_TRUE(jpeg_named_png.has_value());
  EXPECT_EQ(jpeg_named_png->format, Format::kJpeg);
  Result<ProbeInfo> png_named_jpg = ProbeFile(write("photo.jpg", Photo(SynthFormat::kPng)), {});
  ASSERT_TRUE(png_named_jpg.has_value());
  EXPECT_EQ(png_named_jpg->format, Format::kPng);
  ExpectReason(ProbeFile(write("text.jpg", testing::TextBytes()), {}), "unsupported_media_type",
               StatusCode::kInvalidArgument);
  ExpectReason(ProbeFile(write("empty.jpg", ""), {}), "empty_file", StatusCode::kInvalidArgument);
  ExpectReason(ProbeFile(dir / "missing.jpg", {}), "not_found", StatusCode::kNotFound);
  Limits tiny;
  tiny.max_bytes = 100;
  ExpectReason(ProbeFile(write("big.jpg", Photo(SynthFormat::kJpeg)), tiny), "too_large",
               StatusCode::kResourceExhausted);
  std::filesystem::remove_all(dir);
}

TEST(ProbeTest, HostileInputsGetTypedErrors) {
  ExpectReason(ProbeBuffer(testing::EmptyBytes(), {}), "empty_file", StatusCode::kInvalidArgument);
  ExpectReason(ProbeBuffer(testing::TextBytes(), {}), "unsupported_media_type",
               StatusCode::kInvalidArgument);
  ExpectReason(ProbeBuffer(testing::SvgBytes(), {}), "unsupported_media_type",
               StatusCode::kInvalidArgument);
  ExpectReason(ProbeBuffer(testing::PdfBytes(), {}), "unsupported_media_type",
               StatusCode::kInvalidArgument);
  ExpectReason(ProbeBuffer(std::string("PK\x03\x04 zip", 8), {}), "unsupported_media_type",
               StatusCode::kInvalidArgument);
  ExpectReason(ProbeBuffer(testing::TruncatedJpeg(), {}), "corrupt_image",
               StatusCode::kInvalidArgument);
  ExpectReason(ProbeBuffer(testing::TruncatedJpeg(0.01), {}), "corrupt_image",
               StatusCode::kInvalidArgument);
  ExpectReason(ProbeBuffer(testing::PngHeaderOnly(), {}), "too_many_pixels",
               StatusCode::kResourceExhausted);
  // Within the limits but with no pixel data: structurally corrupt.
  ExpectReason(ProbeBuffer(testing::PngHeaderOnly(100, 100), {}), "corrupt_image",
               StatusCode::kInvalidArgument);
  // Magic bytes alone.
  ExpectReason(ProbeBuffer(std::string("\xff\xd8\xff", 3), {}), "corrupt_image",
               StatusCode::kInvalidArgument);
  ExpectReason(ProbeBuffer(std::string("GIF89a"), {}), "corrupt_image",
               StatusCode::kInvalidArgument);
  ExpectReason(ProbeBuffer(std::string("RIFF\x10\0\0\0WEBPVP8 ", 16), {}), "corrupt_image",
               StatusCode::kInvalidArgument);
  ExpectReason(ProbeBuffer(std::string("II*\0\x08\0\0\0garbage", 15), {}), "corrupt_image",
               StatusCode::kInvalidArgument);
  ExpectReason(ProbeBuffer(std::string("\0\0\0\x18" "ftypheic\0\0\0\0mif1heic", 24), {}),
               "corrupt_image", StatusCode::kInvalidArgument);
}

TEST(ProbeTest, TruncationAtEveryLengthNeverCrashes) {
  std::string jpeg = Photo(SynthFormat::kJpeg, 48, 32);
  std::string png = Photo(SynthFormat::kPng, 48, 32);
  std::string webp = Photo(SynthFormat::kWebp, 48, 32);
  for (const std::string* full : {&jpeg, &png, &webp}) {
    for (size_t n = 0; n < full->size(); n += 7) {
      Result<ProbeInfo> r = ProbeBuffer(std::string_view(*full).substr(0, n), {});
      if (!r.has_value()) {
        // Shorter than the magic (8 bytes PNG, 12 WebP): not recognisable.
        bool short_magic = n < 12 && r.error().reason() == "unsupported_media_type";
        EXPECT_TRUE(r.error().reason() == "corrupt_image" || r.error().reason() == "empty_file" ||
                    short_magic)
            << n << ": " << r.error().ToString();
      }
    }
  }
}

TEST(ProbeTest, LimitsAreCheckedFromTheHeader) {
  std::string bytes = Photo(SynthFormat::kJpeg, 200, 100);
  Limits pixels;
  pixels.max_pixels = 200 * 100 - 1;
  ExpectReason(ProbeBuffer(bytes, pixels), "too_many_pixels", StatusCode::kResourceExhausted);
  pixels.max_pixels = 200 * 100;
  EXPECT_TRUE(ProbeBuffer(bytes, pixels).has_value());
  Limits side;
  side.max_dimension = 199;
  ExpectReason(ProbeBuffer(bytes, side), "too_many_pixels", StatusCode::kResourceExhausted);
  Limits frames;
  frames.max_frames = 3;
  ExpectReason(ProbeBuffer(testing::MakeAnimatedGif(16, 16, 4), frames), "too_many_frames",
               StatusCode::kResourceExhausted);
  EXPECT_TRUE(ProbeBuffer(testing::MakeAnimatedGif(16, 16, 3), frames).has_value());
}

TEST(ProbeTest, PolyglotIsAJpegWithTrailingBytes) {
  std::string poly = testing::PolyglotJpegHtmlZip();
  Result<ProbeInfo> r = ProbeBuffer(poly, {});
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->format, Format::kJpeg);
  EXPECT_GT(r->trailing_bytes, 100u);
  Result<ProbeInfo> clean = ProbeBuffer(Photo(SynthFormat::kJpeg), {});
  ASSERT_TRUE(clean.has_value());
  EXPECT_EQ(clean->trailing_bytes, 0u);
}

// libvips keeps its errors in one process-wide buffer that only grows, and a
// refusal's message reaches the API client (415 body): it must be about this
// input, not an earlier upload (found by fuzz/fuzz_probe).
TEST(ProbeTest, RefusalMessageIsAboutThisInputOnly) {
  // A TIFF whose first directory lies far past the end of the file.
  const std::string bad_tiff("II*\0\xff\xff\xff\x3f", 8);
  // An ISO-BMFF 'ftyp' box of a HEIF, then garbage.
  const std::string bad_heif =
      std::string("\0\0\0\x18" "ftypheic\0\0\0\0mif1heic", 24) + std::string(64, 'x');
  Result<ProbeInfo> tiff = ProbeBuffer(bad_tiff, {});
  ASSERT_FALSE(tiff.has_value());
  ASSERT_EQ(tiff.error().reason(), "corrupt_image") << tiff.error().ToString();
  ASSERT_NE(tiff.error().message().find("tiff_openin"), std::string::npos) << tiff.error().message();

  Result<ProbeInfo> heif = ProbeBuffer(bad_heif, {});
  ASSERT_FALSE(heif.has_value());
  EXPECT_EQ(heif.error().reason(), "corrupt_image");
  EXPECT_EQ(heif.error().message().find("tiff"), std::string::npos) << heif.error().message();
  Result<ProbeInfo> again = ProbeBuffer(bad_heif, {});
  ASSERT_FALSE(again.has_value());
  EXPECT_EQ(again.error().message(), heif.error().message());
}

TEST(ProbeTest, VipsErrorTextIsBoundedAndClearsTheBuffer) {
  // vips_error locks a mutex that vips_init creates: ctest runs this test
  // alone, with no earlier probe having initialised libvips.
  InitVips();
  std::string many;
  for (int i = 0; i < 200; ++i) {
    many += "TIFFFetchNormalTag: custom tag " + std::to_string(i) + "\n";
  }
  many += "vips__tiff_openin_source: unable to open source for input\n";
  vips_error("test", "%s", "left over");
  const std::string text = internal::VipsErrorText(vips::VError(many));
  EXPECT_LE(text.size(), kMaxErrorTextBytes);
  EXPECT_EQ(text.find('\n'), std::string::npos) << text;
  EXPECT_EQ(text.rfind("TIFFFetchNormalTag: custom tag 0 [...] ", 0), 0u) << text;
  EXPECT_NE(text.find("unable to open source for input"), std::string::npos) << text;
  EXPECT_STREQ(vips_error_buffer(), "");
  EXPECT_EQ(internal::VipsErrorText(vips::VError("short\n")), "short");
}

TEST(ProbeTest, SniffFormat) {
  EXPECT_EQ(SniffFormat(""), std::nullopt);
  EXPECT_EQ(SniffFormat("\xff\xd8\xff\xe0"), Format::kJpeg);
  EXPECT_EQ(SniffFormat("<svg"), std::nullopt);
  EXPECT_EQ(SniffFormat(std::string_view("\0\0\0\x1c" "ftypavif\0\0\0\0mif1miaf", 24)),
            Format::kAvif);
  EXPECT_EQ(SniffFormat(std::string_view("\0\0\0\x18" "ftypmif1\0\0\0\0heic", 20)),
            Format::kHeif);
  // An MP4 video is ISO-BMFF too, but not an image.
  EXPECT_EQ(SniffFormat(std::string_view("\0\0\0\x18" "ftypisom\0\0\0\0mp41", 20)),
            std::nullopt);
}

TEST(ProbeTest, JpegHeaderEndCoversTheMetadata) {
  const std::string jpeg = testing::MakeJpegWithGps(1200, 900);
  const std::optional<std::size_t> end = JpegHeaderEnd(jpeg);
  ASSERT_TRUE(end.has_value());
  EXPECT_LT(*end, jpeg.size() / 4);
  // Exactly that prefix is enough; one byte less is not.
  const std::string prefix = jpeg.substr(0, *end);
  EXPECT_EQ(JpegHeaderEnd(prefix), end);
  EXPECT_EQ(JpegHeaderEnd(jpeg.substr(0, *end - 1)), std::nullopt);
  // libvips reads the header, EXIF included, from the prefix alone.
  vips::VImage head = vips::VImage::new_from_buffer(prefix.data(), prefix.size(), "");
  EXPECT_EQ(head.width(), 1200);
  EXPECT_NE(head.get_typeof("exif-ifd3-GPSLatitude"), 0u);
  EXPECT_EQ(JpegHeaderEnd(testing::MakePng16(64, 48)), std::nullopt);
  EXPECT_EQ(JpegHeaderEnd(""), std::nullopt);
}

}  // namespace
}  // namespace photo::image
