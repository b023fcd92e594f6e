#include "photo/pipeline/watermark_stage.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>
#include <vips/vips8>

#include "photo/core/files.h"
#include "photo/image/testing/jpeg_coefficients.h"
#include "photo/image/testing/synth.h"
#include "photo/image/vips.h"
#include "photo/pipeline/resize_stage.h"
#include "photo/watermark/watermark.h"

namespace photo::pipeline {
namespace {

namespace fs = std::filesystem;
using vips::VImage;

const std::string kId = "wm01abcdef";

VImage Srgb(VImage im) {
  return im.copy(VImage::option()->set("interpretation", VIPS_INTERPRETATION_sRGB));
}

std::string Encode(const VImage& im, const char* suffix, vips::VOption* opts = nullptr) {
  void* buf = nullptr;
  std::size_t len = 0;
  im.write_to_buffer(suffix, &buf, &len, opts);
  std::string out(static_cast<const char*>(buf), len);
  g_free(buf);
  return out;
}

VImage Decode(const std::string& bytes) {
  return VImage::new_from_buffer(bytes.data(), bytes.size(), "").copy_memory();
}

double MeanAbsDiff(const VImage& a, const VImage& b) {
  return (a.cast(VIPS_FORMAT_INT) - b.cast(VIPS_FORMAT_INT)).abs().avg();
}

class WatermarkStageTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { image::InitVips(); }

  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("wm_stage_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    layout_.emplace(dir_);
    specs_ = {
        {"thumb", 160, image::OutputFormat::kJpeg, 80, false},
        {"medium", 640, image::OutputFormat::kJpeg, 82, true},
        {"large", 960, image::OutputFormat::kWebp, 80, true},
    };
    // What RunResize would have left behind: clean files for the marked
    // specs, the final file for the thumb.
    for (const auto& spec : specs_) {
      const int w = spec.long_edge, h = spec.long_edge * 2 / 3;
      // Camera and GPS EXIF in the clean file (resize would have stripped
      // it; here it proves the watermark stage cannot leak metadata either).
      const std::string with_gps = image::testing::MakeJpegWithGps(w, h);
      VImage img = Decode(with_gps);
      const std::string bytes =
          spec.format == image::OutputFormat::kJpeg
              ? Encode(img, ".jpg", VImage::option()->set("Q", spec.quality))
              : Encode(img, ".webp", VImage::option()->set("Q", spec.quality));
      const fs::path path =
          spec.watermark ? layout_->CleanRendition(kId, spec) : layout_->FinalRendition(kId, spec);
      ASSERT_TRUE(WriteFileAtomic(path, bytes).ok());
      renditions_.push_back({spec.name, path.string(), w, h, bytes.size(), spec.format, false});
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  Result<std::vector<image::Rendition>> Run(const WatermarkConfig& config) {
    return RunWatermark(config, *layout_, kId, specs_, renditions_);
  }

  fs::path dir_;
  std::optional<Layout> layout_;
  std::vector<image::RenditionSpec> specs_;
  std::vector<image::Rendition> renditions_;
};

TEST_F(WatermarkStageTest, MarksOnlyWatermarkedSpecs) {
  const std::string thumb_before = *ReadFile(renditions_[0].path);
  const auto thumb_mtime = fs::last_write_time(renditions_[0].path);
  auto out = Run(WatermarkConfig{});
  ASSERT_TRUE(out.ok()) << out.error().ToString();
  ASSERT_EQ(out->size(), 3u);

  // thumb: untouched, entry unchanged.
  const image::Rendition& thumb = (*out)[0];
  EXPECT_EQ(thumb.path, renditions_[0].path);
  EXPECT_FALSE(thumb.watermarked);
  EXPECT_EQ(thumb.bytes, renditions_[0].bytes);
  EXPECT_EQ(*ReadFile(thumb.path), thumb_before);
  EXPECT_EQ(fs::last_write_time(thumb.path), thumb_mtime);
  EXPECT_FALSE(fs::exists(layout_->CleanRendition(kId, specs_[0])));

  for (int i : {1, 2}) {
    const image::RenditionSpec& spec = specs_[static_cast<std::size_t>(i)];
    const image::Rendition& r = (*out)[static_cast<std::size_t>(i)];
    SCOPED_TRACE(spec.name);
    EXPECT_EQ(r.path, layout_->FinalRendition(kId, spec).string());
    EXPECT_TRUE(r.watermarked);
    EXPECT_EQ(r.format, spec.format);
    const std::string final_bytes = *ReadFile(r.path);
    EXPECT_EQ(r.bytes, final_bytes.size());
    const std::string clean_bytes = *ReadFile(layout_->CleanRendition(kId, spec));
    VImage fin = Decode(final_bytes);
    VImage clean = Decode(clean_bytes);
    EXPECT_EQ(r.width, clean.width());
    EXPECT_EQ(r.height, clean.height());
    EXPECT_EQ(fin.width(), clean.width());
    EXPECT_EQ(fin.height(), clean.height());
    ASSERT_NE(clean.get_typeof("exif-data"), 0u) << "fixture lost its EXIF";
    EXPECT_EQ(fin.get_typeof("exif-data"), 0u) << "metadata not stripped";
    EXPECT_EQ(fin.get_typeof("xmp-data"), 0u);
    // The mark's box differs a lot; the opposite corner only by re-encoding.
    watermark::Options o;
    o.logo = watermark::DefaultLogoPng();
    o.opacity = 0.65;
    auto box = (*watermark::Placement(fin.width(), fin.height(), o))[0];
    EXPECT_GT(MeanAbsDiff(fin.crop(box.x, box.y, box.width, box.height),
                          clean.crop(box.x, box.y, box.width, box.height)),
              20.0);
    EXPECT_LT(
        MeanAbsDiff(fin.crop(0, 0, box.width, box.height), clean.crop(0, 0, box.width, box.height)),
        6.0);
  }
  const char magic_webp[] = "WEBP";
  EXPECT_EQ(ReadFile((*out)[2].path)->substr(8, 4), magic_webp);
}

// Resize then watermark, as the workers run them, for every EXIF
// orientation: the published renditions are upright (the red and green
// markers where they belong), keep their colours, have the spec's size, carry
// the mark bottom-right, and their JPEG blocks away from the mark are the
// clean rendition's, unchanged.
TEST_F(WatermarkStageTest, ResizeThenWatermarkKeepsEveryOrientation) {
  const std::string id = "0123456789abcdef0123456789abcdef";
  const int w = 800, h = 600;
  const image::testing::MarkerLayout m = image::testing::MarkersFor(w, h);
  ResizeConfig resize;
  resize.renditions = {{"thumb", 160, image::OutputFormat::kJpeg, 80, false},
                       {"medium", 400, image::OutputFormat::kJpeg, 82, true},
                       {"large", 640, image::OutputFormat::kJpeg, 85, true}};
  for (int orientation = 1; orientation <= 8; ++orientation) {
    SCOPED_TRACE(::testing::Message() << "orientation " << orientation);
    ASSERT_TRUE(WriteFileAtomic(layout_->Original(id),
                                image::testing::MakeOrientedJpeg(orientation, w, h))
                    .ok());
    auto clean = RunResize(resize, *layout_, id);
    ASSERT_TRUE(clean.ok()) << clean.error().ToString();
    auto out = RunWatermark(WatermarkConfig{}, *layout_, id, resize.renditions, clean->renditions);
    ASSERT_TRUE(out.ok()) << out.error().ToString();
    for (std::size_t i = 0; i < resize.renditions.size(); ++i) {
      const image::RenditionSpec& spec = resize.renditions[i];
      SCOPED_TRACE(spec.name);
      const std::string bytes = *ReadFile((*out)[i].path);
      VImage img = Decode(bytes);
      const double f = static_cast<double>(spec.long_edge) / w;
      EXPECT_EQ(img.width(), spec.long_edge);
      EXPECT_EQ(img.height(), static_cast<int>(h * f));
      EXPECT_EQ((*out)[i].width, img.width());
      EXPECT_EQ((*out)[i].height, img.height());
      EXPECT_EQ((*out)[i].watermarked, spec.watermark);
      auto at = [&](int x, int y) {
        return img.getpoint(static_cast<int>(x * f), static_cast<int>(y * f));
      };
      const auto red = at(m.red_cx, m.red_cy);
      const auto green = at(m.green_cx, m.green_cy);
      const auto grey = at(w / 2, h / 2);
      EXPECT_GT(red[0], 200);
      EXPECT_LT(red[1], 60);
      EXPECT_LT(red[2], 60);
      EXPECT_GT(green[1], 200);
      EXPECT_LT(green[0], 60);
      EXPECT_LT(green[2], 60);
      EXPECT_NEAR(grey[0], 128, 10);
      EXPECT_NEAR(grey[1], 128, 10);
      EXPECT_NEAR(grey[2], 128, 10);
      if (!spec.watermark) continue;
      watermark::Options o;
      o.logo = watermark::DefaultLogoPng();
      const image::Box box = (*watermark::Placement(img.width(), img.height(), o))[0];
      const std::string clean_bytes = *ReadFile(layout_->CleanRendition(id, spec));
      EXPECT_GT(MeanAbsDiff(img.crop(box.x, box.y, box.width, box.height),
                            Decode(clean_bytes).crop(box.x, box.y, box.width, box.height)),
                10.0);
      const image::testing::BlockDiff d =
          image::testing::CompareBlocks(image::testing::ReadJpegCoefficients(clean_bytes),
                                        image::testing::ReadJpegCoefficients(bytes), box);
      EXPECT_TRUE(d.same_layout);
      EXPECT_GT(d.changed, 0);
      EXPECT_EQ(d.changed_outside, 0);
    }
  }
}

TEST_F(WatermarkStageTest, IdenticalCleanFilesAreMarkedOnce) {
  // A source smaller than both targets: the resize stage wrote the same
  // clean bytes for both (image::MakeRenditions encodes them once).
  std::vector<image::RenditionSpec> specs = {
      {"medium", 1280, image::OutputFormat::kJpeg, 82, true},
      {"large", 2560, image::OutputFormat::kJpeg, 85, true},
  };
  const std::string clean = Encode(Decode(image::testing::MakeJpegWithGps(900, 600)), ".jpg",
                                   VImage::option()->set("Q", 85));
  std::vector<image::Rendition> rs;
  for (const auto& spec : specs) {
    ASSERT_TRUE(WriteFileAtomic(layout_->CleanRendition(kId, spec), clean).ok());
    rs.push_back({spec.name, layout_->CleanRendition(kId, spec).string(), 900, 600, clean.size(),
                  spec.format, false});
  }
  auto out = RunWatermark(WatermarkConfig{}, *layout_, kId, specs, rs);
  ASSERT_TRUE(out.ok()) << out.error().ToString();
  const std::string medium = *ReadFile((*out)[0].path);
  const std::string large = *ReadFile((*out)[1].path);
  EXPECT_NE(medium, clean);
  EXPECT_EQ(medium, large) << "one watermark + encode at the higher quality serves both";
  EXPECT_TRUE((*out)[0].watermarked && (*out)[1].watermarked);
  EXPECT_EQ((*out)[0].width, 900);
}

TEST_F(WatermarkStageTest, Idempotent) {
  auto first = Run(WatermarkConfig{});
  ASSERT_TRUE(first.ok());
  const std::string medium = *ReadFile((*first)[1].path);
  const std::string large = *ReadFile((*first)[2].path);
  // A redelivered job may carry the already-updated list.
  auto second = RunWatermark(WatermarkConfig{}, *layout_, kId, specs_, *first);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*ReadFile((*second)[1].path), medium);
  EXPECT_EQ(*ReadFile((*second)[2].path), large);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ((*second)[i].path, (*first)[i].path);
    EXPECT_EQ((*second)[i].bytes, (*first)[i].bytes);
    EXPECT_EQ((*second)[i].watermarked, (*first)[i].watermarked);
  }
}

TEST_F(WatermarkStageTest, DisabledPublishesCleanBytes) {
  WatermarkConfig config;
  config.enabled = false;
  auto out = Run(config);
  ASSERT_TRUE(out.ok()) << out.error().ToString();
  for (int i : {1, 2}) {
    const auto& spec = specs_[static_cast<std::size_t>(i)];
    const auto& r = (*out)[static_cast<std::size_t>(i)];
    EXPECT_FALSE(r.watermarked);
    EXPECT_EQ(r.path, layout_->FinalRendition(kId, spec).string());
    EXPECT_EQ(*ReadFile(r.path), *ReadFile(layout_->CleanRendition(kId, spec)));
  }
}

TEST_F(WatermarkStageTest, CustomLogoAndPosition) {
  // An opaque red bar as the operator's logo, top-left.
  VImage red = Srgb(VImage::black(80, 20, VImage::option()->set("bands", 3))
                        .linear({1, 1, 1}, {255, 0, 0})
                        .cast(VIPS_FORMAT_UCHAR));
  const fs::path logo = dir_ / "logo.png";
  ASSERT_TRUE(WriteFileAtomic(logo, Encode(red, ".png")).ok());
  WatermarkConfig config;
  config.logo = logo.string();
  config.position = "top-left";
  config.opacity = 1.0;
  auto out = Run(config);
  ASSERT_TRUE(out.ok()) << out.error().ToString();
  VImage fin = Decode(*ReadFile((*out)[1].path));
  const int m = static_cast<int>(std::lround(0.02 * fin.width()));
  // Centre of the bar: 20% of 640 = 128 wide, 32 high, at (m, m).
  std::vector<double> px = fin.getpoint(m + 64, m + 16);
  EXPECT_GT(px[0], 200);
  EXPECT_LT(px[1], 60);
  EXPECT_LT(px[2], 60);
}

TEST_F(WatermarkStageTest, TextOnly) {
  WatermarkConfig config;
  config.logo = "none";
  config.text = "© Example";
  auto out = Run(config);
  ASSERT_TRUE(out.ok()) << out.error().ToString();
  EXPECT_TRUE((*out)[1].watermarked);
}

TEST_F(WatermarkStageTest, MissingInputsAreErrors) {
  std::vector<image::Rendition> without_medium = {renditions_[0], renditions_[2]};
  auto r = RunWatermark(WatermarkConfig{}, *layout_, kId, specs_, without_medium);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason(), "rendition_missing");

  fs::remove(layout_->CleanRendition(kId, specs_[2]));
  auto missing = Run(WatermarkConfig{});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code(), StatusCode::kNotFound);

  ASSERT_TRUE(WriteFileAtomic(layout_->CleanRendition(kId, specs_[2]), "not an image").ok());
  auto corrupt = Run(WatermarkConfig{});
  ASSERT_FALSE(corrupt.ok());
  EXPECT_EQ(corrupt.error().reason(), "corrupt_image");
  EXPECT_FALSE(corrupt.error().IsTransient());
}

TEST_F(WatermarkStageTest, BadConfigIsRejected) {
  auto bad = [](auto edit) {
    WatermarkConfig c;
    edit(c);
    return c.Validate();
  };
  EXPECT_TRUE(WatermarkConfig{}.Validate().ok());
  EXPECT_EQ(bad([](WatermarkConfig& c) { c.position = "middle"; }).reason(), "bad_config");
  EXPECT_FALSE(bad([](WatermarkConfig& c) { c.opacity = 1.5; }).ok());
  EXPECT_FALSE(bad([](WatermarkConfig& c) { c.opacity = -1; }).ok());
  EXPECT_FALSE(bad([](WatermarkConfig& c) { c.margin = 0.5; }).ok());
  EXPECT_FALSE(bad([](WatermarkConfig& c) { c.size = 0; }).ok());
  EXPECT_FALSE(bad([](WatermarkConfig& c) { c.size = 1.2; }).ok());
  EXPECT_FALSE(bad([](WatermarkConfig& c) { c.logo = "/nonexistent/logo.png"; }).ok());
  EXPECT_FALSE(bad([](WatermarkConfig& c) { c.logo = "none"; }).ok());  // nothing to draw
  EXPECT_FALSE(bad([](WatermarkConfig& c) { c.text = "\xc3"; }).ok());
  EXPECT_TRUE(bad([](WatermarkConfig& c) {
                c.logo = "none";
                c.text = "ok";
                c.position = "Tiled";
              }).ok());

  WatermarkConfig c;
  c.position = "nowhere";
  auto r = Run(c);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.error().reason(), "bad_config");
  EXPECT_FALSE(fs::exists(layout_->FinalRendition(kId, specs_[1])));
}

// Restores the environment variables a test sets.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value, 1);
  }
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

TEST_F(WatermarkStageTest, LoadFromEnv) {
  {
    ScopedEnv a("PHOTO_PIPELINE_WATERMARK_ENABLED", "off");
    ScopedEnv b("PHOTO_PIPELINE_WATERMARK_TEXT", "© Me");
    ScopedEnv c("PHOTO_PIPELINE_WATERMARK_LOGO", "none");
    ScopedEnv d("PHOTO_PIPELINE_WATERMARK_POSITION", "tiled");
    ScopedEnv e("PHOTO_PIPELINE_WATERMARK_OPACITY", "40%");
    ScopedEnv f("PHOTO_PIPELINE_WATERMARK_MARGIN", "0.05");
    ScopedEnv g("PHOTO_PIPELINE_WATERMARK_SIZE", "0.3");
    WatermarkConfig config;
    ASSERT_TRUE(config.LoadFromEnv().ok());
    EXPECT_FALSE(config.enabled);
    EXPECT_EQ(config.text, "© Me");
    EXPECT_EQ(config.logo, "none");
    EXPECT_EQ(config.position, "tiled");
    EXPECT_DOUBLE_EQ(config.opacity, 0.4);
    EXPECT_DOUBLE_EQ(config.margin, 0.05);
    EXPECT_DOUBLE_EQ(config.size, 0.3);
    EXPECT_TRUE(config.Validate().ok());
  }
  {
    WatermarkConfig config;  // nothing set: defaults stay
    ASSERT_TRUE(config.LoadFromEnv().ok());
    EXPECT_TRUE(config.enabled);
    EXPECT_EQ(config.position, "bottom-right");
    EXPECT_DOUBLE_EQ(config.opacity, 0.65);
  }
  for (auto [name, value] : std::vector<std::pair<const char*, const char*>>{
           {"PHOTO_PIPELINE_WATERMARK_ENABLED", "maybe"},
           {"PHOTO_PIPELINE_WATERMARK_OPACITY", "half"},
           {"PHOTO_PIPELINE_WATERMARK_OPACITY", "0.5x"},
           {"PHOTO_PIPELINE_WATERMARK_MARGIN", ""},
           {"PHOTO_PIPELINE_WATERMARK_SIZE", "nan"}}) {
    ScopedEnv env(name, value);
    WatermarkConfig config;
    Status s = config.LoadFromEnv();
    EXPECT_FALSE(s.ok()) << name << "=" << value;
    EXPECT_EQ(s.reason(), "bad_config");
    EXPECT_NE(s.message().find(name), std::string::npos) << s.message();
  }
  {
    ScopedEnv env("PHOTO_PIPELINE_WATERMARK_OPACITY", "2");
    WatermarkConfig config;
    ASSERT_TRUE(config.LoadFromEnv().ok());  // parses; the range is Validate's job
    EXPECT_FALSE(config.Validate().ok());
  }
}

}  // namespace
}  // namespace photo::pipeline
