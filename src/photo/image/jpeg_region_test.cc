#include "photo/image/jpeg_region.h"

#include <gtest/gtest.h>

#include <vector>
#include <vips/vips8>

#include "photo/image/encode.h"
#include "photo/image/testing/jpeg_coefficients.h"
#include "photo/image/testing/synth.h"
#include "photo/image/vips.h"

namespace photo::image {
namespace {

using testing::CompareBlocks;
using testing::ReadJpegCoefficients;

// Fails the test for a block that changed outside `box`; returns how many changed.
int ExpectUnchangedOutside(const std::string& in, const std::string& out, const Box& box) {
  const testing::BlockDiff d =
      CompareBlocks(ReadJpegCoefficients(in), ReadJpegCoefficients(out), box);
  EXPECT_TRUE(d.same_layout);
  EXPECT_EQ(d.changed_outside, 0);
  return d.changed;
}

vips::VImage Decode(const std::string& jpeg) {
  return vips::VImage::new_from_buffer(jpeg.data(), jpeg.size(), "").copy_memory();
}

// Inverts every pixel of the box: a change no re-encode can hide.
std::function<Status(const RgbRegion&)> Invert(const Box& box) {
  return [box](const RgbRegion& r) {
    for (int y = box.y; y < box.y + box.height; ++y) {
      std::uint8_t* p = r.pixels + (static_cast<size_t>(y - r.y) * static_cast<size_t>(r.width) +
                                    static_cast<size_t>(box.x - r.x)) *
                                       3;
      for (int i = 0; i < box.width * 3; ++i) p[i] = static_cast<std::uint8_t>(255 - p[i]);
    }
    return Status::Ok();
  };
}

std::string Photo(int w, int h, bool subsample, int quality = 85) {
  testing::SynthOptions o;
  o.width = w;
  o.height = h;
  o.subsample = subsample;
  o.quality = quality;
  return testing::MakePhoto(o);
}

TEST(JpegRegionTest, OnlyBlocksUnderTheBoxChangeAndTheBoxIsEdited) {
  InitVips();
  // Odd sizes: partial MCUs at the right and bottom edges.
  for (bool subsample : {true, false}) {
    const std::string jpeg = Photo(645, 487, subsample);
    const std::vector<Box> boxes = {
        {0, 0, 40, 30, 0},                  // top-left corner
        {37, 51, 100, 45, 0},               // unaligned, inside
        {645 - 131, 487 - 29, 131, 29, 0},  // bottom-right, touching both edges
        {300, 200, 1, 1, 0},                // one pixel
    };
    for (const Box& box : boxes) {
      SCOPED_TRACE(::testing::Message() << "subsample " << subsample << " box " << box.x << ","
                                        << box.y << " " << box.width << "x" << box.height);
      auto out = EditJpegRegion(jpeg, box, Invert(box));
      ASSERT_TRUE(out.ok()) << out.error().ToString();
      const int changed = ExpectUnchangedOutside(jpeg, *out, box);
      EXPECT_GT(changed, 0);
      // Inside the box the decoded pixels are the inverse of the original's.
      vips::VImage before = Decode(jpeg).crop(box.x, box.y, box.width, box.height);
      vips::VImage after = Decode(*out).crop(box.x, box.y, box.width, box.height);
      const double mean_sum = (before + after).avg();  // ~255 when inverted
      EXPECT_NEAR(mean_sum, 255, 12);
    }
  }
}

// Pixels of a synthetic photo, as EncodeJpegRowRestarts takes them.
std::vector<std::uint8_t> Pixels(int w, int h) {
  vips::VImage img = Decode(Photo(w, h, true));
  size_t len = 0;
  void* mem = img.write_to_memory(&len);
  std::vector<std::uint8_t> rgb(static_cast<std::uint8_t*>(mem),
                                static_cast<std::uint8_t*>(mem) + len);
  g_free(mem);
  return rgb;
}

TEST(JpegRegionTest, RowRestartFilesReencodeOnlyTheRowsUnderTheBox) {
  InitVips();
  for (int quality : {82, 92}) {  // 4:2:0 and 4:4:4
    const int w = 645, h = 487;
    const std::vector<std::uint8_t> rgb = Pixels(w, h);
    const std::string jpeg = EncodeJpegRowRestarts(rgb.data(), w, h, quality);
    const testing::JpegCoefficients in = ReadJpegCoefficients(jpeg);
    const int mcu = quality < 90 ? 16 : 8;
    EXPECT_EQ(in.restart_interval, (w + mcu - 1) / mcu);
    EXPECT_FALSE(in.progressive);
    // The same blocks as the published-file encoder (libvips, accurate DCT)
    // makes from the same pixels.
    const vips::VImage img = vips::VImage::new_from_memory(
        const_cast<std::uint8_t*>(rgb.data()), rgb.size(), w, h, 3, VIPS_FORMAT_UCHAR);
    EXPECT_EQ(CompareBlocks(ReadJpegCoefficients(EncodeVips(img, OutputFormat::kJpeg, quality)),
                            in, {})
                  .changed,
              0);
    for (const Box& box : std::vector<Box>{{0, 0, 40, 30, 0},
                                           {37, 200, 100, 45, 0},
                                           {w - 131, h - 29, 131, 29, 0},
                                           {0, 0, w, h, 0}}) {
      SCOPED_TRACE(::testing::Message() << "q" << quality << " box " << box.x << "," << box.y);
      auto rows = EditJpegRegion(jpeg, box, Invert(box));
      ASSERT_TRUE(rows.ok()) << rows.error().ToString();
      EXPECT_GT(ExpectUnchangedOutside(jpeg, *rows, box), 0);
      EXPECT_EQ(ReadJpegCoefficients(*rows).restart_interval, in.restart_interval);
      // The whole-file path (forced by optimize_coding) edits the same blocks.
      auto whole = EditJpegRegion(jpeg, box, Invert(box), {.optimize_coding = true});
      ASSERT_TRUE(whole.ok());
      EXPECT_EQ(
          CompareBlocks(ReadJpegCoefficients(*rows), ReadJpegCoefficients(*whole), {}).changed, 0);
      const double mean_sum = (Decode(jpeg).crop(box.x, box.y, box.width, box.height) +
                               Decode(*rows).crop(box.x, box.y, box.width, box.height))
                                  .avg();
      EXPECT_NEAR(mean_sum, 255, 12);
    }
  }
}

TEST(JpegRegionTest, UnchangedPixelsKeepEveryBlock) {
  InitVips();
  const std::string jpeg = Photo(320, 240, true);
  auto same =
      EditJpegRegion(jpeg, {100, 100, 50, 50, 0}, [](const RgbRegion&) { return Status::Ok(); });
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(ExpectUnchangedOutside(jpeg, *same, {}), 0);
  auto empty = EditJpegRegion(jpeg, {}, [](const RgbRegion&) {
    ADD_FAILURE() << "no region to edit";
    return Status::Ok();
  });
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(ExpectUnchangedOutside(jpeg, *empty, {}), 0);
}

TEST(JpegRegionTest, OptimizedCodingChangesOnlyTheEntropyCoding) {
  InitVips();
  const std::string jpeg = Photo(640, 480, true);
  const Box box{500, 400, 120, 60, 0};
  auto plain = EditJpegRegion(jpeg, box, Invert(box));
  auto optimized = EditJpegRegion(jpeg, box, Invert(box), {.optimize_coding = true});
  ASSERT_TRUE(plain.ok());
  ASSERT_TRUE(optimized.ok());
  EXPECT_LT(optimized->size(), plain->size());
  EXPECT_EQ(ExpectUnchangedOutside(*plain, *optimized, {}), 0);
}

TEST(JpegRegionTest, ProgressiveInputIsEdited) {
  InitVips();
  vips::VImage img = Decode(Photo(400, 300, true));
  void* buf = nullptr;
  size_t len = 0;
  img.write_to_buffer(".jpg", &buf, &len,
                      vips::VImage::option()->set("Q", 80)->set("interlace", true));
  const std::string progressive(static_cast<const char*>(buf), len);
  g_free(buf);
  const Box box{10, 10, 64, 64, 0};
  auto out = EditJpegRegion(progressive, box, Invert(box));
  ASSERT_TRUE(out.ok()) << out.error().ToString();
  EXPECT_GT(ExpectUnchangedOutside(progressive, *out, box), 0);
}

TEST(JpegRegionTest, RefusesWhatItCannotEdit) {
  InitVips();
  const std::string grey = testing::MakeGreyJpeg(64, 48);
  EXPECT_FALSE(EditableJpegLayout(grey).has_value());
  EXPECT_EQ(EditJpegRegion(grey, {0, 0, 8, 8, 0}, Invert({0, 0, 8, 8, 0})).error().reason(),
            "unsupported_jpeg");
  EXPECT_FALSE(EditableJpegLayout(testing::MakeCmykJpeg(64, 48)).has_value());
  EXPECT_FALSE(EditableJpegLayout(testing::TextBytes()).has_value());

  const std::string jpeg = Photo(320, 240, true);
  auto layout = EditableJpegLayout(jpeg);
  ASSERT_TRUE(layout.has_value());
  EXPECT_EQ(layout->width, 320);
  EXPECT_EQ(layout->mcu_width, 16);
  EXPECT_EQ(EditJpegRegion(jpeg, {300, 0, 40, 8, 0}, Invert({0, 0, 1, 1, 0})).error().reason(),
            "bad_region");
  EXPECT_EQ(EditJpegRegion(testing::TextBytes(), {0, 0, 1, 1, 0}, Invert({0, 0, 1, 1, 0}))
                .error()
                .reason(),
            "corrupt_image");
  // Entropy data cut short: refused, never published with grey blocks.
  const std::string cut = jpeg.substr(0, jpeg.size() / 2);
  EXPECT_EQ(EditJpegRegion(cut, {0, 0, 8, 8, 0}, Invert({0, 0, 8, 8, 0})).error().reason(),
            "corrupt_image");
}

TEST(JpegRegionTest, EditErrorsPassThrough) {
  InitVips();
  auto out = EditJpegRegion(Photo(64, 64, true), {0, 0, 8, 8, 0},
                            [](const RgbRegion&) { return InternalError("boom", "edit failed"); });
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.error().reason(), "boom");
}

}  // namespace
}  // namespace photo::image
