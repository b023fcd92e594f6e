#include "photo/watermark/watermark.h"

#include <gtest/gtest.h>

#include <string>
#include <thread>
#include <vector>

#include "photo/image/vips.h"

namespace photo::watermark {
namespace {

using vips::VImage;

class WatermarkTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { image::InitVips(); }
};

VImage Srgb(VImage im) {
  return im.copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
}

// A photo-like 3-band image: fixed-seed noise around mid grey.
VImage Noise(int w, int h) {
  VImage r = VImage::gaussnoise(
      w, h, VImage::option()->set("mean", 128.0)->set("sigma", 40.0)->set("seed", 1));
  VImage g = VImage::gaussnoise(
      w, h, VImage::option()->set("mean", 100.0)->set("sigma", 30.0)->set("seed", 2));
  VImage b = VImage::gaussnoise(
      w, h, VImage::option()->set("mean", 150.0)->set("sigma", 35.0)->set("seed", 3));
  return Srgb(VImage::bandjoin({r, g, b}).cast(VIPS_FORMAT_UCHAR)).copy_memory();
}

VImage Flat(int w, int h, double value, int bands = 3) {
  return Srgb((VImage::black(w, h, VImage::option()->set("bands", bands)) + value)
                  .cast(VIPS_FORMAT_UCHAR))
      .copy_memory();
}

// Per-pixel max over bands of |a - b|, as a 1-band image.
VImage AbsDiff(const VImage& a, const VImage& b) {
  VImage d = (a.cast(VIPS_FORMAT_INT) - b.cast(VIPS_FORMAT_INT)).abs();
  return d.bandbool(VIPS_OPERATION_BOOLEAN_OR).cast(VIPS_FORMAT_UCHAR).copy_memory();
}

double MaxOutside(const VImage& diff, const image::Box& box) {
  VImage hole = VImage::black(box.width, box.height);
  return diff.insert(hole.cast(diff.format()), box.x, box.y).max();
}

double MeanInside(const VImage& diff, const image::Box& box) {
  return diff.crop(box.x, box.y, box.width, box.height).avg();
}

struct Rect {
  int left, top, width, height;
};
// Bounding box of the non-zero pixels of a 1-band image.
Rect NonZeroBounds(const VImage& diff) {
  VImage mask = (diff > 0).cast(VIPS_FORMAT_UCHAR);
  Rect r{};
  r.left = mask.find_trim(
      &r.top, &r.width, &r.height,
      VImage::option()->set("background", std::vector<double>{0})->set("threshold", 0.5));
  return r;
}

Options Logo(Position p = Position::kBottomRight) {
  Options o;
  o.logo = DefaultLogoPng();
  o.position = p;
  return o;
}

TEST_F(WatermarkTest, PositionNamesRoundTrip) {
  for (int i = 0; i <= static_cast<int>(Position::kTiled); ++i) {
    const auto p = static_cast<Position>(i);
    auto parsed = ParsePosition(PositionName(p));
    ASSERT_TRUE(parsed.ok()) << PositionName(p);
    EXPECT_EQ(*parsed, p);
  }
  EXPECT_EQ(*ParsePosition("Bottom_Right"), Position::kBottomRight);
  EXPECT_EQ(*ParsePosition("centre"), Position::kCenter);
  auto bad = ParsePosition("bottom-middle");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().reason(), "bad_watermark_options");
  EXPECT_FALSE(ParsePosition("").ok());
}

TEST_F(WatermarkTest, ValidateRejectsOutOfRange) {
  EXPECT_TRUE(Validate(Logo()).ok());
  auto with = [](auto edit) {
    Options o = Logo();
    edit(o);
    return Validate(o);
  };
  EXPECT_FALSE(with([](Options& o) { o.opacity = -0.1; }).ok());
  EXPECT_FALSE(with([](Options& o) { o.opacity = 1.01; }).ok());
  EXPECT_FALSE(with([](Options& o) { o.opacity = std::nan(""); }).ok());
  EXPECT_FALSE(with([](Options& o) { o.margin = 0.3; }).ok());
  EXPECT_FALSE(with([](Options& o) { o.margin = -0.01; }).ok());
  EXPECT_FALSE(with([](Options& o) { o.size = 0; }).ok());
  EXPECT_FALSE(with([](Options& o) { o.size = 1.5; }).ok());
  EXPECT_FALSE(with([](Options& o) { o.logo = {}; }).ok());  // nothing to draw
  EXPECT_FALSE(with([](Options& o) { o.text = "bad \xff utf8"; }).ok());
  EXPECT_FALSE(with([](Options& o) { o.text = "line\nbreak"; }).ok());
  EXPECT_FALSE(with([](Options& o) { o.text = std::string(600, 'a'); }).ok());
  EXPECT_TRUE(with([](Options& o) { o.text = "© 2024 Ünïcode — ok"; }).ok());
  // Opacity 0 with nothing to draw is a valid "off".
  Options off;
  off.opacity = 0;
  EXPECT_TRUE(Validate(off).ok());

  VImage img = Noise(64, 64);
  Options bad = Logo();
  bad.size = 2;
  auto r = Apply(img, bad);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
}

TEST_F(WatermarkTest, BadLogoBytesAreRejected) {
  Options o;
  o.logo = "definitely not a png";
  auto r = Apply(Noise(200, 100), o);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason(), "bad_watermark_logo");
  EXPECT_EQ(r.error().code(), StatusCode::kInvalidArgument);
}

TEST_F(WatermarkTest, DefaultLogoIsEmbeddedRgbaPng) {
  std::string_view png = DefaultLogoPng();
  ASSERT_GT(png.size(), 100u);
  EXPECT_EQ(png.substr(1, 3), "PNG");
  VImage logo = VImage::new_from_buffer(png.data(), png.size(), "");
  EXPECT_EQ(logo.bands(), 4);
  EXPECT_GE(logo.width(), 512);  // never upscaled for the 2560 px rendition at size 0.2
}

// Every grid position: pixels change inside the placement box only, and the
// box sits in the expected third of the frame, `margin` from the edges.
TEST_F(WatermarkTest, GridPositionsChangeOnlyTheirBox) {
  const int w = 640, h = 480;
  VImage img = Noise(w, h);
  for (int i = 0; i < 9; ++i) {
    const auto p = static_cast<Position>(i);
    SCOPED_TRACE(PositionName(p));
    Options o = Logo(p);
    o.margin = 0.03;
    auto boxes = Placement(w, h, o);
    ASSERT_TRUE(boxes.ok()) << boxes.error().ToString();
    ASSERT_EQ(boxes->size(), 1u);
    const image::Box box = (*boxes)[0];
    auto out = Apply(img, o);
    ASSERT_TRUE(out.ok()) << out.error().ToString();
    ASSERT_EQ(out->width(), w);
    ASSERT_EQ(out->height(), h);
    ASSERT_EQ(out->bands(), 3);
    ASSERT_EQ(out->format(), VIPS_FORMAT_UCHAR);
    VImage diff = AbsDiff(*out, img);
    EXPECT_EQ(MaxOutside(diff, box), 0.0);
    EXPECT_GT(MeanInside(diff, box), 10.0);

    // Independent of Placement: where did pixels actually change?
    const Rect changed = NonZeroBounds(diff);
    const int m = static_cast<int>(std::lround(0.03 * w));
    const int col = i % 3, row = i / 3;
    const int cx = changed.left + changed.width / 2;
    const int cy = changed.top + changed.height / 2;
    EXPECT_EQ(cx * 3 / w, col) << "centre x " << cx;
    EXPECT_EQ(cy * 3 / h, row) << "centre y " << cy;
    if (col == 0) {
      EXPECT_GE(changed.left, m);
      EXPECT_LE(changed.left, m + 2);
    }
    if (col == 2) {
      EXPECT_LE(changed.left + changed.width, w - m);
      EXPECT_GE(changed.left + changed.width, w - m - 2);
    }
    if (row == 0) {
      EXPECT_GE(changed.top, m);
      EXPECT_LE(changed.top, m + 2);
    }
    if (row == 2) {
      EXPECT_LE(changed.top + changed.height, h - m);
      EXPECT_GE(changed.top + changed.height, h - m - 2);
    }
    if (col == 1) {
      EXPECT_NEAR(cx, w / 2, 3);
    }
    if (row == 1) {
      EXPECT_NEAR(cy, h / 2, 3);
    }
    // Default size: ~20% of the width.
    EXPECT_NEAR(box.width, 0.2 * w, 2);
  }
}

// The default look must be clearly visible on a white and on a black photo.
TEST_F(WatermarkTest, DefaultIsVisibleOnWhiteAndBlack) {
  Options o = Logo();  // library defaults: bottom-right, 0.65, 20%
  for (double value : {255.0, 0.0}) {
    SCOPED_TRACE(value);
    VImage img = Flat(1280, 853, value);
    auto out = Apply(img, o);
    ASSERT_TRUE(out.ok());
    auto boxes = Placement(1280, 853, o);
    ASSERT_TRUE(boxes.ok());
    VImage diff = AbsDiff(*out, img);
    const image::Box box = (*boxes)[0];
    // On white the whole panel darkens; on black only the white strokes show
    // (the dark panel is invisible there), so less of the box changes.
    EXPECT_GT(MeanInside(diff, box), value > 0 ? 50.0 : 12.0);
    EXPECT_GT(diff.crop(box.x, box.y, box.width, box.height).max(), value > 0 ? 70.0 : 120.0);
  }
}

TEST_F(WatermarkTest, TextOnlyIsVisibleOnWhiteAndBlack) {
  Options o;
  o.text = "© Example <Agency> & co";
  for (double value : {255.0, 0.0}) {
    SCOPED_TRACE(value);
    VImage img = Flat(1280, 853, value);
    auto out = Apply(img, o);
    ASSERT_TRUE(out.ok()) << out.error().ToString();
    auto boxes = Placement(1280, 853, o);
    ASSERT_TRUE(boxes.ok());
    ASSERT_EQ(boxes->size(), 1u);
    const image::Box box = (*boxes)[0];
    EXPECT_LE(box.width, 256);
    EXPECT_LE(box.height, 64);
    VImage diff = AbsDiff(*out, img);
    EXPECT_EQ(MaxOutside(diff, box), 0.0);
    // White text carries on black; the dark halo carries on white.
    EXPECT_GT(diff.crop(box.x, box.y, box.width, box.height).max(), 60.0);
    EXPECT_GT(MeanInside(diff, box), 8.0);
  }
}

TEST_F(WatermarkTest, LogoAndTextStack) {
  Options o = Logo();
  o.text = "id 0123456789";
  auto both = Placement(1280, 853, o);
  auto logo_only = Placement(1280, 853, Logo());
  ASSERT_TRUE(both.ok() && logo_only.ok());
  EXPECT_EQ((*both)[0].width, (*logo_only)[0].width);
  EXPECT_GT((*both)[0].height, (*logo_only)[0].height * 1.2);
  VImage img = Noise(1280, 853);
  auto out = Apply(img, o);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(MaxOutside(AbsDiff(*out, img), (*both)[0]), 0.0);
}

// A 1280 and a 2560 rendition carry the same-looking mark: twice the pixels.
TEST_F(WatermarkTest, SizeScalesWithRenditionWidth) {
  for (Options o : {Logo(), [] {
                      Options t;
                      t.text = "photo-pipeline";
                      return t;
                    }()}) {
    auto small = Placement(1280, 960, o);
    auto large = Placement(2560, 1920, o);
    ASSERT_TRUE(small.ok() && large.ok());
    const image::Box s = (*small)[0], l = (*large)[0];
    // Within 6%: glyph hinting makes small text slightly taller than scaled.
    EXPECT_NEAR(l.width, 2 * s.width, 0.06 * l.width);
    EXPECT_NEAR(l.height, 2 * s.height, 0.06 * l.height);
    EXPECT_NEAR(static_cast<double>(l.x) / 2560, static_cast<double>(s.x) / 1280, 0.005);
    EXPECT_NEAR(static_cast<double>(l.y) / 1920, static_cast<double>(s.y) / 960, 0.005);
    EXPECT_NEAR(s.width, 0.2 * 1280, 0.06 * s.width);
  }
}

TEST_F(WatermarkTest, MarkShrinksToFitNarrowImages) {
  Options o = Logo();
  o.size = 1.0;
  auto boxes = Placement(400, 60, o);  // a banner: the 4:1 logo cannot be 400 wide
  ASSERT_TRUE(boxes.ok());
  ASSERT_EQ(boxes->size(), 1u);
  const image::Box b = (*boxes)[0];
  const int m = static_cast<int>(std::lround(0.02 * 400));
  EXPECT_LE(b.height, 60 - 2 * m);
  EXPECT_GE(b.x, m);
  EXPECT_GE(b.y, m);
  auto out = Apply(Noise(400, 60), o);
  ASSERT_TRUE(out.ok());
  // Too small for any mark: unchanged, no error.
  VImage tiny = Noise(4, 4);
  auto t = Apply(tiny, Logo());
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(AbsDiff(*t, tiny).max(), 0.0);
}

TEST_F(WatermarkTest, TiledCoversTheWholeImage) {
  const int w = 1280, h = 853;
  VImage img = Noise(w, h);
  Options o = Logo(Position::kTiled);
  auto out = Apply(img, o);
  ASSERT_TRUE(out.ok()) << out.error().ToString();
  ASSERT_EQ(out->width(), w);
  ASSERT_EQ(out->height(), h);
  VImage diff = AbsDiff(*out, img);
  // Every cell of a 4x4 grid carries part of a mark.
  for (int gy = 0; gy < 4; ++gy) {
    for (int gx = 0; gx < 4; ++gx) {
      VImage cell = diff.crop(gx * w / 4, gy * h / 4, w / 4, h / 4);
      EXPECT_GT(cell.avg(), 2.0) << "cell " << gx << "," << gy;
    }
  }
  auto boxes = Placement(w, h, o);
  ASSERT_TRUE(boxes.ok());
  ASSERT_EQ(boxes->size(), 1u);
  EXPECT_EQ((*boxes)[0].width, w);
  EXPECT_EQ((*boxes)[0].height, h);
}

TEST_F(WatermarkTest, OpacityZeroChangesNothing) {
  VImage img = Noise(320, 240);
  for (Position p : {Position::kBottomRight, Position::kTiled}) {
    Options o = Logo(p);
    o.opacity = 0;
    auto out = Apply(img, o);
    ASSERT_TRUE(out.ok());
    EXPECT_EQ(AbsDiff(*out, img).max(), 0.0);
    auto boxes = Placement(320, 240, o);
    ASSERT_TRUE(boxes.ok());
    EXPECT_TRUE(boxes->empty());
  }
}

TEST_F(WatermarkTest, OpacityScalesTheChange) {
  VImage img = Flat(640, 480, 255);
  Options lo = Logo(), hi = Logo();
  lo.opacity = 0.3;
  hi.opacity = 0.9;
  auto a = Apply(img, lo), b = Apply(img, hi);
  ASSERT_TRUE(a.ok() && b.ok());
  auto box = (*Placement(640, 480, hi))[0];
  const double da = MeanInside(AbsDiff(*a, img), box);
  const double db = MeanInside(AbsDiff(*b, img), box);
  EXPECT_NEAR(db / da, 3.0, 0.3);
}

TEST_F(WatermarkTest, AlphaInputKeepsAlpha) {
  const int w = 640, h = 480;
  VImage rgb = Noise(w, h);
  // Left half opaque, right half 50% transparent.
  VImage alpha = Srgb(VImage::black(w / 2, h) + 255)
                     .cast(VIPS_FORMAT_UCHAR)
                     .join((VImage::black(w - w / 2, h) + 128).cast(VIPS_FORMAT_UCHAR),
                           VIPS_DIRECTION_HORIZONTAL);
  VImage img = Srgb(rgb.bandjoin(alpha)).copy_memory();
  for (Position p : {Position::kBottomRight, Position::kTiled}) {
    SCOPED_TRACE(PositionName(p));
    Options o = Logo(p);
    auto out = Apply(img, o);
    ASSERT_TRUE(out.ok()) << out.error().ToString();
    ASSERT_EQ(out->bands(), 4);
    VImage out_alpha = out->extract_band(3);
    // OVER never makes a pixel more transparent.
    EXPECT_EQ((out_alpha.cast(VIPS_FORMAT_INT) < alpha.cast(VIPS_FORMAT_INT)).max(), 0.0);
    auto boxes = Placement(w, h, o);
    ASSERT_TRUE(boxes.ok());
    if (p != Position::kTiled) {
      EXPECT_EQ(MaxOutside(AbsDiff(*out, img), (*boxes)[0]), 0.0);
      // The mark lands on the half-transparent side and makes it more opaque.
      EXPECT_GT(
          out_alpha.crop((*boxes)[0].x, (*boxes)[0].y, (*boxes)[0].width, (*boxes)[0].height).max(),
          128.0);
    }
  }
}

TEST_F(WatermarkTest, GreyInputBecomesSrgb) {
  VImage grey = (VImage::black(320, 240) + 90)
                    .cast(VIPS_FORMAT_UCHAR)
                    .copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_B_W));
  auto out = Apply(grey, Logo());
  ASSERT_TRUE(out.ok()) << out.error().ToString();
  EXPECT_EQ(out->bands(), 3);
  EXPECT_EQ(out->interpretation(), VIPS_INTERPRETATION_sRGB);
}

// Opaque renditions take an 8-bit blend fast path; images with alpha take
// libvips' float composite. With an opaque alpha band both must give the
// same picture (to rounding), and only inside the box.
TEST_F(WatermarkTest, FastBlendMatchesComposite) {
  const int w = 800, h = 600;
  VImage img = Noise(w, h);
  VImage opaque = Srgb(img.bandjoin_const({255})).copy_memory();
  for (Position p : {Position::kCenter, Position::kTiled}) {
    SCOPED_TRACE(PositionName(p));
    Options o = Logo(p);
    o.text = "both paths";
    auto fast = Apply(img, o);
    auto slow = Apply(opaque, o);
    ASSERT_TRUE(fast.ok() && slow.ok());
    ASSERT_EQ(slow->bands(), 4);
    VImage slow_rgb = slow->extract_band(0, VImage::option()->set("n", 3));
    EXPECT_EQ(slow->extract_band(3).min(), 255.0);  // stays opaque
    VImage diff = AbsDiff(*fast, slow_rgb);
    EXPECT_LE(diff.max(), 2.0);
    EXPECT_LT(diff.avg(), 0.5);
  }
}

TEST_F(WatermarkTest, ConcurrentCallsAgree) {
  ClearCaches();
  VImage img = Noise(640, 480);
  Options o = Logo();
  o.text = "concurrent";
  auto ref = Apply(img, o);
  ASSERT_TRUE(ref.ok());
  VImage expected = ref->copy_memory();
  ClearCaches();
  std::vector<double> max_diff(4, -1);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      double worst = 0;
      for (int i = 0; i < 5; ++i) {
        if (t == 0 && i == 2) ClearCaches();
        auto out = Apply(img, o);
        if (!out.ok()) {
          worst = 999;
          continue;
        }
        worst = std::max(worst, AbsDiff(*out, expected).max());
      }
      max_diff[t] = worst;
    });
  }
  for (auto& th : threads) th.join();
  for (double d : max_diff) EXPECT_EQ(d, 0.0);
}

}  // namespace
}  // namespace photo::watermark
