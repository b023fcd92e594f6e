// The DCT-domain watermark (ApplyToJpegBlocks, and ApplyToEncoded's choice of
// it): the coefficients of every block outside the mark are the input's, bit
// for bit, and the mark is visible inside.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "photo/image/jpeg_region.h"
#include "photo/image/testing/jpeg_coefficients.h"
#include "photo/image/testing/synth.h"
#include "photo/image/vips.h"
#include "photo/watermark/watermark.h"

namespace photo::watermark {
namespace {

using image::testing::BlockDiff;
using image::testing::CompareBlocks;
using image::testing::ReadJpegCoefficients;
using vips::VImage;

class JpegBlocksTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { image::InitVips(); }
};

std::string Jpeg(const VImage& img, int quality = 82) {
  void* buf = nullptr;
  size_t len = 0;
  img.write_to_buffer(".jpg", &buf, &len, VImage::option()->set("Q", quality)->set("strip", true));
  std::string out(static_cast<const char*>(buf), len);
  g_free(buf);
  return out;
}

VImage Decode(const std::string& jpeg) {
  return VImage::new_from_buffer(jpeg.data(), jpeg.size(), "").copy_memory();
}

std::string Photo(int w, int h) {
  image::testing::SynthOptions o;
  o.width = w;
  o.height = h;
  o.quality = 82;
  return image::testing::MakePhoto(o);
}

std::string FlatJpeg(int w, int h, double value) {
  VImage flat = (VImage::black(w, h, VImage::option()->set("bands", 3)) + value)
                    .cast(VIPS_FORMAT_UCHAR)
                    .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
  return Jpeg(flat);
}

Options Logo(Position p = Position::kBottomRight) {
  Options o;
  o.logo = DefaultLogoPng();
  o.position = p;
  return o;
}

image::Box BoxOf(const std::string& jpeg, const Options& o) {
  const VImage img = Decode(jpeg);
  auto boxes = Placement(img.width(), img.height(), o);
  EXPECT_TRUE(boxes.ok());
  EXPECT_EQ(boxes->size(), 1u);
  return boxes->empty() ? image::Box{} : boxes->front();
}

// Mean over the box of the per-pixel largest band difference.
double MeanChangeInside(const std::string& a, const std::string& b, const image::Box& box) {
  VImage d = (Decode(a).cast(VIPS_FORMAT_INT) - Decode(b).cast(VIPS_FORMAT_INT)).abs();
  return d.bandbool(VIPS_OPERATION_BOOLEAN_OR).crop(box.x, box.y, box.width, box.height).avg();
}

TEST_F(JpegBlocksTest, OnlyBlocksUnderTheMarkChangeAtEveryGridPosition) {
  // Not a multiple of the 16 px MCU: the right and bottom marks sit on
  // partial blocks.
  const std::string clean = Photo(1000, 750);
  const auto before = ReadJpegCoefficients(clean);
  for (int p = 0; p < static_cast<int>(Position::kTiled); ++p) {
    const Options o = Logo(static_cast<Position>(p));
    SCOPED_TRACE(PositionName(o.position));
    auto out = ApplyToEncoded(clean, image::OutputFormat::kJpeg, 82, o);
    ASSERT_TRUE(out.ok()) << out.error().ToString();
    EXPECT_EQ(out->width, 1000);
    EXPECT_EQ(out->height, 750);
    const image::Box box = BoxOf(clean, o);
    const BlockDiff d = CompareBlocks(before, ReadJpegCoefficients(out->bytes), box);
    EXPECT_TRUE(d.same_layout);
    EXPECT_EQ(d.changed_outside, 0);
    EXPECT_GT(d.changed, 100);  // a 200x47 mark covers ~150 luma blocks alone
    EXPECT_GT(MeanChangeInside(clean, out->bytes, box), 8);
  }
}

TEST_F(JpegBlocksTest, VisibleOnWhiteAndBlackLikeThePixelPath) {
  for (double value : {255.0, 0.0}) {
    SCOPED_TRACE(value);
    const std::string clean = FlatJpeg(1280, 960, value);
    const Options o = Logo();
    const image::Box box = BoxOf(clean, o);
    auto dct = ApplyToEncoded(clean, image::OutputFormat::kJpeg, 82, o);
    auto pixels = ApplyToEncoded(clean, image::OutputFormat::kJpeg, 82, o, JpegMarking::kPixels);
    ASSERT_TRUE(dct.ok());
    ASSERT_TRUE(pixels.ok());
    // The thresholds of DefaultIsVisibleOnWhiteAndBlack (watermark_test.cc).
    EXPECT_GT(MeanChangeInside(clean, dct->bytes, box), value > 0 ? 50 : 12);
    // The same blend, so the same mark within the JPEG's noise.
    EXPECT_LT(MeanChangeInside(dct->bytes, pixels->bytes, box), 2.5);
    EXPECT_EQ(CompareBlocks(ReadJpegCoefficients(clean), ReadJpegCoefficients(dct->bytes), box)
                  .changed_outside,
              0);
  }
}

TEST_F(JpegBlocksTest, NothingDrawnKeepsEveryBlock) {
  const std::string clean = Photo(640, 480);
  Options o = Logo();
  o.opacity = 0;
  auto out = ApplyToEncoded(clean, image::OutputFormat::kJpeg, 82, o);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(
      CompareBlocks(ReadJpegCoefficients(clean), ReadJpegCoefficients(out->bytes), {}).changed, 0);
  // Too small for an 8 px mark.
  const std::string tiny = Photo(20, 12);
  auto small = ApplyToEncoded(tiny, image::OutputFormat::kJpeg, 82, Logo());
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(
      CompareBlocks(ReadJpegCoefficients(tiny), ReadJpegCoefficients(small->bytes), {}).changed, 0);
}

TEST_F(JpegBlocksTest, OtherCasesTakeThePixelPath) {
  const std::string clean = Photo(640, 480);
  // Tiled: the mark covers the frame, so every block changes.
  auto tiled = ApplyToJpegBlocks(clean, Logo(Position::kTiled), false);
  EXPECT_EQ(tiled.error().reason(), "unsupported_jpeg");
  auto via_pixels = ApplyToEncoded(clean, image::OutputFormat::kJpeg, 82, Logo(Position::kTiled));
  ASSERT_TRUE(via_pixels.ok());
  // WebP output, or a JPEG libjpeg cannot edit in place (greyscale), decode.
  auto webp = ApplyToEncoded(clean, image::OutputFormat::kWebp, 82, Logo());
  ASSERT_TRUE(webp.ok());
  EXPECT_EQ(webp->bytes.compare(0, 4, "RIFF"), 0);
  const std::string grey = image::testing::MakeGreyJpeg(640, 480);
  EXPECT_EQ(ApplyToJpegBlocks(grey, Logo(), false).error().reason(), "unsupported_jpeg");
  auto grey_out = ApplyToEncoded(grey, image::OutputFormat::kJpeg, 82, Logo());
  ASSERT_TRUE(grey_out.ok());
  EXPECT_EQ(Decode(grey_out->bytes).bands(), 3);
}

TEST_F(JpegBlocksTest, DamagedCleanFileIsCorrupt) {
  const std::string clean = Photo(640, 480);
  auto out =
      ApplyToEncoded(clean.substr(0, clean.size() * 2 / 3), image::OutputFormat::kJpeg, 82, Logo());
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().reason(), "corrupt_image");
}

TEST_F(JpegBlocksTest, NoMetadataReachesTheOutput) {
  const std::string clean = image::testing::MakeJpegWithGps(640, 480);
  auto out = ApplyToEncoded(clean, image::OutputFormat::kJpeg, 82, Logo());
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->bytes.find("Exif"), std::string::npos);
  EXPECT_EQ(out->bytes.find("PhotoTest"), std::string::npos);
}

}  // namespace
}  // namespace photo::watermark
