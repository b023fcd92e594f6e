#include "photo/pipeline/resize_stage.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "photo/core/files.h"
#include "photo/core/ids.h"
#include "photo/image/testing/synth.h"

namespace photo::pipeline {
namespace {

namespace fs = std::filesystem;

class ResizeStageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("resize_stage_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string PutOriginal(const Layout& layout, const std::string& bytes) {
    std::string id = NewImageId();
    EXPECT_TRUE(WriteFileAtomic(layout.Original(id), std::string_view(bytes)).ok());
    return id;
  }

  fs::path dir_;
};

TEST_F(ResizeStageTest, WritesEveryRenditionInTheLayout) {
  Layout layout(dir_);
  image::testing::SynthOptions o;
  o.width = 1600;
  o.height = 1200;
  o.gps = true;
  std::string id = PutOriginal(layout, image::testing::MakePhoto(o));
  ResizeConfig config;  // defaults: thumb 320, medium 1280 (wm), large 2560 (wm)
  Result<ResizeOutput> out = RunResize(config, layout, id);
  ASSERT_TRUE(out.has_value()) << out.error().ToString();
  EXPECT_EQ(out->source.width, 1600);
  EXPECT_EQ(out->source.format, image::Format::kJpeg);
  ASSERT_EQ(out->renditions.size(), 3u);
  const auto& specs = config.renditions;
  for (size_t i = 0; i < specs.size(); ++i) {
    const image::Rendition& r = out->renditions[i];
    EXPECT_EQ(r.name, specs[i].name);
    fs::path expected = specs[i].watermark ? layout.CleanRendition(id, specs[i])
                                           : layout.FinalRendition(id, specs[i]);
    EXPECT_EQ(r.path, expected.string());
    ASSERT_TRUE(fs::exists(expected)) << expected;
    EXPECT_EQ(fs::file_size(expected), r.bytes);
    EXPECT_FALSE(r.watermarked);
  }
  EXPECT_EQ(out->renditions[0].width, 320);
  EXPECT_EQ(out->renditions[1].width, 1280);
  EXPECT_EQ(out->renditions[2].width, 1600);  // never upscaled
  EXPECT_EQ(out->renditions[2].height, 1200);
  // No temp files left behind (atomic writes renamed into place).
  for (const auto& entry : fs::recursive_directory_iterator(layout.ImageDir(id))) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
  }
  // The original is untouched and still carries its GPS; the renditions do not.
  Result<std::string> rendition = ReadFile(out->renditions[0].path);
  ASSERT_TRUE(rendition.has_value());
  EXPECT_EQ(rendition->find("Exif"), std::string::npos);
}

TEST_F(ResizeStageTest, IdempotentRerunRewritesIdenticalFiles) {
  Layout layout(dir_);
  std::string id = PutOriginal(layout, image::testing::MakeJpegWithGps(900, 600));
  ResizeConfig config;
  Result<ResizeOutput> first = RunResize(config, layout, id);
  ASSERT_TRUE(first.has_value()) << first.error().ToString();
  std::vector<std::string> before;
  for (const auto& r : first->renditions) before.push_back(*ReadFile(r.path));
  // A crash after the first file: delete one, rerun, all present and equal.
  fs::remove(first->renditions[1].path);
  Result<ResizeOutput> second = RunResize(config, layout, id);
  ASSERT_TRUE(second.has_value()) << second.error().ToString();
  ASSERT_EQ(second->renditions.size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) {
    EXPECT_EQ(second->renditions[i].path, first->renditions[i].path);
    EXPECT_EQ(*ReadFile(second->renditions[i].path), before[i]);
  }
}

TEST_F(ResizeStageTest, TypedErrors) {
  Layout layout(dir_);
  ResizeConfig config;
  EXPECT_EQ(RunResize(config, layout, "../../etc").error().reason(), "invalid_id");
  Result<ResizeOutput> missing = RunResize(config, layout, NewImageId());
  EXPECT_EQ(missing.error().reason(), "not_found");
  EXPECT_EQ(missing.error().code(), StatusCode::kNotFound);
  std::string text = PutOriginal(layout, image::testing::TextBytes());
  EXPECT_EQ(RunResize(config, layout, text).error().reason(), "unsupported_media_type");
  std::string corrupt = PutOriginal(layout, image::testing::TruncatedJpeg());
  EXPECT_EQ(RunResize(config, layout, corrupt).error().reason(), "corrupt_image");
  std::string bomb = PutOriginal(layout, image::testing::PngHeaderOnly());
  EXPECT_EQ(RunResize(config, layout, bomb).error().reason(), "too_many_pixels");
  ResizeConfig tiny;
  tiny.limits.max_bytes = 10;
  std::string big = PutOriginal(layout, image::testing::MakePhoto());
  Result<ResizeOutput> too_large = RunResize(tiny, layout, big);
  EXPECT_EQ(too_large.error().reason(), "too_large");
  EXPECT_EQ(too_large.error().code(), StatusCode::kResourceExhausted);
  // Nothing was written for the failures.
  EXPECT_FALSE(fs::exists(layout.ImageDir(corrupt) / "thumb.jpg"));
}

TEST(ResizeConfigTest, ParsesRenditions) {
  Result<std::vector<image::RenditionSpec>> r =
      ParseRenditions("thumb:320:jpeg:80,medium:1280:jpeg:82:wm,large:2560:webp:85:wm,x:64");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_EQ(r->size(), 4u);
  EXPECT_EQ((*r)[0].name, "thumb");
  EXPECT_EQ((*r)[0].long_edge, 320);
  EXPECT_EQ((*r)[0].quality, 80);
  EXPECT_FALSE((*r)[0].watermark);
  EXPECT_TRUE((*r)[1].watermark);
  EXPECT_EQ((*r)[2].format, image::OutputFormat::kWebp);
  EXPECT_EQ((*r)[3].format, image::OutputFormat::kJpeg);
  EXPECT_EQ((*r)[3].quality, 82);
  for (const char* bad : {"", "thumb", "thumb:abc", "thumb:320:gif", "thumb:320:jpeg:0",
                          "thumb:320:jpeg:101", "thumb:320:jpeg:80:xx", "original:320",
                          "a:320,a:640", "Thumb:320", "thumb:-5", "thumb:320,"}) {
    EXPECT_EQ(ParseRenditions(bad).error().reason(), "invalid_config") << bad;
  }
}

TEST(ResizeConfigTest, LoadFromEnv) {
  ::setenv("PHOTO_PIPELINE_RENDITIONS", "s:100:png", 1);
  ::setenv("PHOTO_PIPELINE_MAX_BYTES", "1234", 1);
  ::setenv("PHOTO_PIPELINE_MAX_PIXELS", "5678", 1);
  ::setenv("PHOTO_PIPELINE_MAX_FRAMES", "7", 1);
  ::setenv("PHOTO_PIPELINE_WATERMARK_ENABLED", "False", 1);
  ResizeConfig config;
  Status s = config.LoadFromEnv();
  EXPECT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(config.renditions.size(), 1u);
  EXPECT_EQ(config.renditions[0].format, image::OutputFormat::kPng);
  EXPECT_EQ(config.limits.max_bytes, 1234u);
  EXPECT_EQ(config.limits.max_pixels, 5678u);
  EXPECT_EQ(config.limits.max_frames, 7);
  EXPECT_FALSE(config.watermark_enabled);
  ::setenv("PHOTO_PIPELINE_WATERMARK_ENABLED", "maybe", 1);
  ResizeConfig bad_bool;
  EXPECT_EQ(bad_bool.LoadFromEnv().reason(), "invalid_config");
  ::setenv("PHOTO_PIPELINE_WATERMARK_ENABLED", "1", 1);
  ::setenv("PHOTO_PIPELINE_MAX_FRAMES", "lots", 1);
  ResizeConfig bad;
  EXPECT_EQ(bad.LoadFromEnv().reason(), "invalid_config");
  for (const char* v : {"PHOTO_PIPELINE_RENDITIONS", "PHOTO_PIPELINE_MAX_BYTES",
                        "PHOTO_PIPELINE_MAX_PIXELS", "PHOTO_PIPELINE_MAX_FRAMES",
                        "PHOTO_PIPELINE_WATERMARK_ENABLED"}) {
    ::unsetenv(v);
  }
  ResizeConfig defaults;
  EXPECT_TRUE(defaults.LoadFromEnv().ok());
  EXPECT_EQ(defaults.renditions.size(), 3u);
  EXPECT_EQ(defaults.limits.max_bytes, 50ull * 1024 * 1024);
  EXPECT_TRUE(defaults.watermark_enabled);
}

}  // namespace
}  // namespace photo::pipeline
