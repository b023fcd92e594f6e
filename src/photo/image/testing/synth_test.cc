// The fixtures themselves must be right, or every test built on them lies.
#include "photo/image/testing/synth.h"

#include <gtest/gtest.h>
#include <vips/vips8>

#include "photo/image/vips.h"

namespace photo::image::testing {
namespace {

using vips::VImage;

// new_from_buffer does not copy: decode while the bytes are alive.
VImage Load(const std::string& bytes) {
  return VImage::new_from_buffer(bytes, "").copy_memory();
}

std::vector<double> PixelAt(const VImage& img, int x, int y) { return img.getpoint(x, y); }

TEST(SynthTest, PhotoHasRequestedSizeInEveryFormat) {
  for (SynthFormat f : {SynthFormat::kJpeg, SynthFormat::kPng, SynthFormat::kWebp,
                        SynthFormat::kTiff, SynthFormat::kGif, SynthFormat::kHeif,
                        SynthFormat::kAvif}) {
    SynthOptions o;
    o.width = 96;
    o.height = 64;
    o.format = f;
    VImage img = Load(MakePhoto(o));
    EXPECT_EQ(img.width(), 96) << static_cast<int>(f);
    EXPECT_EQ(img.height(), 64) << static_cast<int>(f);
  }
}

TEST(SynthTest, DeterministicBytes) {
  EXPECT_EQ(MakePhoto(), MakePhoto());
}

TEST(SynthTest, GpsTagsSurviveTheRoundTrip) {
  VImage img = Load(MakeJpegWithGps(64, 48));
  ASSERT_NE(img.get_typeof("exif-ifd3-GPSLatitude"), 0);
  EXPECT_NE(std::string(img.get_string("exif-ifd3-GPSLatitude")).find("48/1 51/1 296/10"),
            std::string::npos);
  EXPECT_NE(img.get_typeof("exif-ifd3-GPSLongitude"), 0);
  EXPECT_NE(std::string(img.get_string("exif-ifd0-Make")).find("PhotoTest"), std::string::npos);
}

TEST(SynthTest, OrientedJpegsAutorotateToTheMarkers) {
  for (int o = 1; o <= 8; ++o) {
    VImage img = Load(MakeOrientedJpeg(o, 200, 120));
    EXPECT_EQ(img.get_int("orientation"), o);
    VImage up = img.autorot();
    ASSERT_EQ(up.width(), 200) << o;
    ASSERT_EQ(up.height(), 120) << o;
    MarkerLayout m = MarkersFor(200, 120);
    auto red = PixelAt(up, m.red_cx, m.red_cy);
    auto green = PixelAt(up, m.green_cx, m.green_cy);
    EXPECT_GT(red[0], 200) << o;
    EXPECT_LT(red[1], 60) << o;
    EXPECT_GT(green[1], 200) << o;
    EXPECT_LT(green[0], 60) << o;
  }
}

TEST(SynthTest, ColourVariants) {
  VImage cmyk = Load(MakeCmykJpeg(64, 48));
  EXPECT_EQ(cmyk.bands(), 4);
  EXPECT_EQ(cmyk.interpretation(), VIPS_INTERPRETATION_CMYK);
  VImage rgb16 = Load(MakePng16(64, 48, false));
  EXPECT_EQ(rgb16.format(), VIPS_FORMAT_USHORT);
  EXPECT_EQ(rgb16.bands(), 3);
  VImage grey16 = Load(MakePng16(64, 48, true));
  EXPECT_EQ(grey16.format(), VIPS_FORMAT_USHORT);
  EXPECT_EQ(grey16.bands(), 1);
  VImage grey = Load(MakeGreyJpeg(64, 48));
  EXPECT_EQ(grey.bands(), 1);
  VImage rgba = Load(MakeRgbaPng(64, 48));
  EXPECT_EQ(rgba.bands(), 4);
  EXPECT_EQ(PixelAt(rgba, 2, 2)[3], 0);
  EXPECT_EQ(PixelAt(rgba, 60, 2)[3], 255);
  EXPECT_EQ(Load(MakeRgbaWebp(64, 48)).bands(), 4);
  std::string gif_bytes = MakeAnimatedGif(32, 24, 5);
  VImage gif = VImage::new_from_buffer(gif_bytes, "", VImage::option()->set("n", -1));
  EXPECT_EQ(gif.get_int("n-pages"), 5);
}

TEST(SynthTest, HostileFixturesHaveTheirShape) {
  EXPECT_TRUE(EmptyBytes().empty());
  std::string png = PngHeaderOnly();
  EXPECT_EQ(png.substr(1, 3), "PNG");
  EXPECT_EQ(png.size(), 8u + 25u + 12u);
  std::string trunc = TruncatedJpeg();
  EXPECT_EQ(static_cast<unsigned char>(trunc[0]), 0xff);
  std::string poly = PolyglotJpegHtmlZip();
  EXPECT_EQ(static_cast<unsigned char>(poly[0]), 0xff);
  EXPECT_NE(poly.find(kPolyglotMarker), std::string::npos);
  EXPECT_EQ(poly.substr(poly.size() - 22, 4), std::string("PK\x05\x06", 4));
  EXPECT_EQ(Crc32("123456789"), 0xcbf43926u);  // the standard check value
}

}  // namespace
}  // namespace photo::image::testing
