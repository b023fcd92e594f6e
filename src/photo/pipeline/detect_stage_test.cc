#include "photo/pipeline/detect_stage.h"

#include <vips/vips8>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "photo/core/files.h"
#include "photo/image/testing/synth.h"
#include "photo/image/vips.h"
#include "photo/pipeline/resize_stage.h"

namespace photo::pipeline {
namespace {

namespace fs = std::filesystem;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kId[] = "0123456789abcdef0123456789abcdef";
const fs::path kAstronaut = "/usr/lib/python3/dist-packages/skimage/data/astronaut.png";

image::RenditionSpec Spec(const std::string& name, int edge, bool wm) {
  image::RenditionSpec s;
  s.name = name;
  s.long_edge = edge;
  s.watermark = wm;
  return s;
}

// Writes `src` scaled to `edge` px as a JPEG at `path`.
void WriteScaled(const fs::path& src, int edge, const fs::path& path) {
  image::InitVips();
  fs::create_directories(path.parent_path());
  vips::VImage img = vips::VImage::thumbnail(src.c_str(), edge,
                                             vips::VImage::option()->set("size", VIPS_SIZE_FORCE));
  img.jpegsave(path.c_str());
}

class DetectStageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("detect_stage_" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    layout_ = std::make_unique<Layout>(dir_);
    ASSERT_TRUE(WriteFileAtomic(layout_->Original(kId),
                                image::testing::MakeJpegWithGps(1600, 1200))
                    .ok());
    // Clean medium: the astronaut (one face). Clean thumb: the same, small.
    // Final large: watermarked, a featureless image — never to be analysed.
    medium_ = layout_->CleanRendition(kId, Spec("medium", 1280, true));
    thumb_ = layout_->FinalRendition(kId, Spec("thumb", 320, false));
    large_ = layout_->FinalRendition(kId, Spec("large", 2560, true));
    WriteScaled(kAstronaut, 1024, medium_);
    WriteScaled(kAstronaut, 320, thumb_);
    image::testing::SynthOptions flat;
    flat.width = 1300;
    flat.height = 1300;
    flat.noise_sigma = 0;
    ASSERT_TRUE(WriteFileAtomic(large_, image::testing::MakePhoto(flat)).ok());
  }
  void TearDown() override { fs::remove_all(dir_); }

  image::Rendition R(const std::string& name, const fs::path& p, int edge, bool wm,
                     bool relative) const {
    image::Rendition r;
    r.name = name;
    r.path = relative ? fs::relative(p, dir_).string() : p.string();
    r.width = r.height = edge;
    r.watermarked = wm;
    return r;
  }

  fs::path dir_, medium_, thumb_, large_;
  std::unique_ptr<Layout> layout_;
};

TEST_F(DetectStageTest, AnalysesTheCleanRenditionNearestTheAnalysisSize) {
  for (bool relative : {true, false}) {
    SCOPED_TRACE(relative ? "relative paths" : "absolute paths");
    // The watermarked "large" (1300) is nearer 1280 than the clean 1024 but
    // must be skipped; the clean thumb (320) is farther.
    std::vector<image::Rendition> rs = {R("thumb", thumb_, 320, false, relative),
                                        R("medium", medium_, 1024, false, relative),
                                        R("large", large_, 1300, true, relative)};
    auto d = RunDetect(DetectConfig{}, *layout_, kId, rs);
    ASSERT_TRUE(d.ok()) << d.error().ToString() << " (run scripts/fetch-models.sh)";
    EXPECT_EQ(d->analysed_width, 1024);
    EXPECT_EQ(d->analysed_height, 1024);
    EXPECT_EQ(d->face_count, 1);
    ASSERT_EQ(d->faces.size(), 1u);
    EXPECT_NEAR(d->faces[0].x + d->faces[0].width / 2, 205 * 2, 60);
    EXPECT_NE(d->phash, 0u);
    EXPECT_GT(d->sharpness, 0);
    EXPECT_FALSE(d->dominant_colors.empty());
    EXPECT_EQ(d->exif.camera, "PhotoTest Synth 1");
    EXPECT_EQ(d->exif.captured_at, "2021:06:05 04:03:02");
    EXPECT_TRUE(d->exif.gps_present);
    EXPECT_EQ(d->content_status, "unknown");
    EXPECT_THAT(d->checks_ran, Contains("exif"));
    EXPECT_THAT(d->checks_ran, Contains("faces"));
    EXPECT_THAT(d->checks_ran, Not(Contains("classifier")));
  }
}

TEST(AnalysisCandidatesTest, NearestFirstWithTwinsForWatermarkedRenditions) {
  const Layout keys("");
  auto r = [](const char* name, int w, bool wm) {
    image::Rendition x;
    x.name = name;
    x.path = std::string(name) + ".jpg";
    x.width = w;
    x.height = w * 3 / 4;
    x.watermarked = wm;
    return x;
  };
  DetectConfig c;
  c.analysis_long_edge = 1280;
  const auto got = AnalysisCandidates(
      c, keys, kId, {r("thumb", 320, false), r("large", 2560, true), r("medium", 1280, true),
                     r("alt", 1600, false), r("alt2", 960, false)});
  std::vector<std::string> order;
  for (const AnalysisCandidate& x : got) order.push_back(x.rendition.name);
  // 1600 and 960 are both 320 away: the larger first.
  EXPECT_EQ(order, (std::vector<std::string>{"medium", "alt", "alt2", "thumb", "large"}));
  EXPECT_TRUE(got[0].twin);
  EXPECT_FALSE(got[0].rendition.watermarked);
  image::RenditionSpec medium;
  medium.name = "medium";
  EXPECT_EQ(got[0].rendition.path, keys.CleanRendition(kId, medium).string());
  EXPECT_FALSE(got[1].twin);
  EXPECT_EQ(got[1].rendition.path, "alt.jpg");
}

// The astronaut at the far right of a wide canvas: a centred square crop
// would cut her face off.
void WriteWideWithFaceAtRight(const fs::path& path) {
  image::InitVips();
  fs::create_directories(path.parent_path());
  vips::VImage face = vips::VImage::new_from_file(kAstronaut.c_str());
  vips::VImage canvas = vips::VImage::black(1280, 512, vips::VImage::option()->set("bands", 3))
                            .linear({1, 1, 1}, {90, 110, 130})
                            .cast(VIPS_FORMAT_UCHAR);
  canvas.insert(face, 1280 - 512, 0).jpegsave(path.c_str());
}

TEST_F(DetectStageTest, CropKeepsTheFaceInsideASquareThumbnailAndRecordsTheBox) {
  WriteWideWithFaceAtRight(medium_);
  auto specs = ParseRenditions("thumb:320,square:320x320:jpeg:80:crop");
  ASSERT_TRUE(specs.ok()) << specs.error().ToString();
  auto out = RunDetectAndCrop(DetectConfig{}, *layout_, kId,
                              {R("medium", medium_, 1280, false, true)}, *specs);
  ASSERT_TRUE(out.ok()) << out.error().ToString();
  const image::Detections& d = out->detections;
  ASSERT_EQ(d.face_count, 1);
  ASSERT_EQ(out->crops.size(), 1u);  // the long-edge thumb is the resize stage's
  const image::Rendition& sq = out->crops[0];
  EXPECT_EQ(sq.name, "square");
  EXPECT_EQ(sq.width, 320);
  EXPECT_EQ(sq.height, 320);
  EXPECT_EQ(sq.path, layout_->FinalRendition(kId, (*specs)[1]).string());
  vips::VImage written = vips::VImage::new_from_file(sq.path.c_str());
  EXPECT_EQ(written.width(), 320);
  EXPECT_EQ(written.height(), 320);
  ASSERT_EQ(d.crops.size(), 1u);
  const image::CropBox& box = d.crops[0];
  EXPECT_EQ(box.rendition, "square");
  EXPECT_EQ(box.method, "faces");
  EXPECT_EQ(box.faces, 1);
  EXPECT_EQ(box.width, 512);  // the largest square in a 1280x512 picture
  EXPECT_EQ(box.height, 512);
  const image::Box& f = d.faces[0];
  EXPECT_GE(f.x, box.x);
  EXPECT_LE(f.x + f.width, box.x + box.width);
  EXPECT_GE(f.y, box.y);
  EXPECT_LE(f.y + f.height, box.y + box.height);
}

TEST_F(DetectStageTest, CropWithoutFacesUsesTheAttentionCrop) {
  // The featureless synthetic original has no face.
  auto specs = ParseRenditions("square:200x200:webp:80:crop");
  ASSERT_TRUE(specs.ok()) << specs.error().ToString();
  auto out = RunDetectAndCrop(DetectConfig{}, *layout_, kId,
                              {R("large", large_, 1300, true, true)}, *specs);
  ASSERT_TRUE(out.ok()) << out.error().ToString();
  ASSERT_EQ(out->detections.face_count, 0);
  ASSERT_EQ(out->detections.crops.size(), 1u);
  EXPECT_EQ(out->detections.crops[0].method, "attention");
  EXPECT_EQ(out->detections.crops[0].faces, 0);
  EXPECT_EQ(out->crops[0].format, image::OutputFormat::kWebp);
  EXPECT_EQ(out->crops[0].width, 200);
  EXPECT_TRUE(fs::exists(out->crops[0].path));
}

TEST(CropSpecTest, ParsesBoxesAndRejectsMismatches) {
  auto s = ParseRenditions("square:320x240:png:90:crop,medium:1280:jpeg:82:wm");
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_TRUE((*s)[0].is_crop());
  EXPECT_EQ((*s)[0].crop_width, 320);
  EXPECT_EQ((*s)[0].crop_height, 240);
  EXPECT_EQ((*s)[0].long_edge, 320);
  EXPECT_EQ((*s)[0].format, image::OutputFormat::kPng);
  EXPECT_FALSE((*s)[0].watermark);
  EXPECT_FALSE((*s)[1].is_crop());
  for (const char* bad : {"sq:320x320:jpeg:80", "sq:320:jpeg:80:crop", "sq:8x8:jpeg:80:crop",
                          "similar:320x320:jpeg:80:crop",
                          "sq:320xabc:jpeg:80:crop", "sq:320x320:jpeg:80:zoom"}) {
    auto b = ParseRenditions(bad);
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_EQ(b.error().reason(), "invalid_config") << bad;
  }
}

TEST_F(DetectStageTest, FallsBackToTheOriginalWithoutACleanRendition) {
  auto d = RunDetect(DetectConfig{}, *layout_, kId, {R("large", large_, 1300, true, true)});
  ASSERT_TRUE(d.ok()) << d.error().ToString();
  EXPECT_EQ(d->analysed_width, 1280);  // the 1600x1200 original, shrunk
  EXPECT_EQ(d->analysed_height, 960);
}

TEST_F(DetectStageTest, MissingOrEscapingRenditionIsAnError) {
  fs::remove(medium_);
  auto d = RunDetect(DetectConfig{}, *layout_, kId, {R("medium", medium_, 1024, false, true)});
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().reason(), "not_found");
  EXPECT_FALSE(d.error().IsTransient());

  image::Rendition evil = R("medium", medium_, 1024, false, true);
  evil.path = "../../etc/passwd";
  auto e = RunDetect(DetectConfig{}, *layout_, kId, {evil});
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.error().reason(), "invalid_path");
}

TEST_F(DetectStageTest, ClassifierRulesSetContentStatus) {
  DetectConfig c;
  c.face_model = "none";
  c.classifier_model = PHOTO_TEST_CLASSIFIER_ONNX;
  c.classifier_labels = (dir_ / "labels.txt").string();
  std::ofstream(c.classifier_labels) << "bright\ndark\n";
  c.classifier_width = c.classifier_height = 32;
  const std::vector<image::Rendition> rs = {R("medium", medium_, 1024, false, true)};
  c.review_rules = "dark>=0.5";  // the astronaut is mostly dark
  auto review = RunDetect(c, *layout_, kId, rs);
  ASSERT_TRUE(review.ok()) << review.error().ToString();
  EXPECT_EQ(review->content_status, "review");
  ASSERT_EQ(review->reasons.size(), 1u);
  EXPECT_THAT(review->reasons[0], HasSubstr("dark"));
  EXPECT_THAT(review->checks_ran, Contains("classifier"));
  EXPECT_THAT(review->checks_ran, Not(Contains("faces")));
  c.review_rules = "bright>=0.9";
  auto safe = RunDetect(c, *layout_, kId, rs);
  ASSERT_TRUE(safe.ok());
  EXPECT_EQ(safe->content_status, "safe");
  EXPECT_TRUE(safe->reasons.empty());
}

TEST(DetectConfigTest, LoadsFromEnvironment) {
  ::setenv("PHOTO_PIPELINE_FACE_MODEL", "lbp", 1);
  ::setenv("PHOTO_PIPELINE_FACE_THRESHOLD", "0.5", 1);
  ::setenv("PHOTO_PIPELINE_FACE_TILE", "0", 1);
  ::setenv("PHOTO_PIPELINE_FACE_CANDIDATE", "0.3", 1);
  ::setenv("PHOTO_PIPELINE_FACE_MIN_SIZE", "0", 1);
  ::setenv("PHOTO_PIPELINE_FACE_MIRROR", "0", 1);
  ::setenv("PHOTO_PIPELINE_FACE_MAX_PASSES", "12", 1);
  ::setenv("PHOTO_PIPELINE_CLASSIFIER_MODEL", "/m.onnx", 1);
  ::setenv("PHOTO_PIPELINE_CLASSIFIER_LABELS", "/l.txt", 1);
  ::setenv("PHOTO_PIPELINE_CLASSIFIER_INPUT", "299x224", 1);
  ::setenv("PHOTO_PIPELINE_CLASSIFIER_MEAN", "123.7,116.3,103.5", 1);
  ::setenv("PHOTO_PIPELINE_CLASSIFIER_SOFTMAX", "1", 1);
  ::setenv("PHOTO_PIPELINE_REVIEW_RULES", "nsfw>=0.5", 1);
  ::setenv("PHOTO_PIPELINE_BLUR_THRESHOLD", "55", 1);
  DetectConfig c;
  Status s = c.LoadFromEnv();
  for (const char* v : {"PHOTO_PIPELINE_FACE_MODEL", "PHOTO_PIPELINE_FACE_THRESHOLD",
                        "PHOTO_PIPELINE_FACE_TILE", "PHOTO_PIPELINE_FACE_CANDIDATE",
                        "PHOTO_PIPELINE_FACE_MIN_SIZE", "PHOTO_PIPELINE_FACE_MIRROR",
                        "PHOTO_PIPELINE_FACE_MAX_PASSES", "PHOTO_PIPELINE_CLASSIFIER_MODEL",
                        "PHOTO_PIPELINE_CLASSIFIER_LABELS", "PHOTO_PIPELINE_CLASSIFIER_INPUT",
                        "PHOTO_PIPELINE_CLASSIFIER_MEAN", "PHOTO_PIPELINE_CLASSIFIER_SOFTMAX",
                        "PHOTO_PIPELINE_REVIEW_RULES", "PHOTO_PIPELINE_BLUR_THRESHOLD"}) {
    ::unsetenv(v);
  }
  ASSERT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(c.face_model, "lbp");
  EXPECT_DOUBLE_EQ(c.face_threshold, 0.5);
  EXPECT_EQ(c.face_tile_px, 0);
  EXPECT_DOUBLE_EQ(c.face_candidate_threshold, 0.3);
  EXPECT_EQ(c.face_min_long_edge, 0);
  EXPECT_FALSE(c.face_mirror);
  EXPECT_EQ(c.face_max_passes, 12);
  EXPECT_EQ(c.classifier_width, 299);
  EXPECT_EQ(c.classifier_height, 224);
  EXPECT_DOUBLE_EQ(c.classifier_mean[2], 103.5);
  EXPECT_TRUE(c.classifier_softmax);
  EXPECT_EQ(c.review_rules, "nsfw>=0.5");
  EXPECT_DOUBLE_EQ(c.blur_threshold, 55);
}

TEST(DetectConfigTest, RejectsBadValues) {
  ::setenv("PHOTO_PIPELINE_FACE_THRESHOLD", "high", 1);
  DetectConfig c;
  Status s = c.LoadFromEnv();
  ::unsetenv("PHOTO_PIPELINE_FACE_THRESHOLD");
  EXPECT_EQ(s.reason(), "invalid_config");
  EXPECT_THAT(s.message(), HasSubstr("PHOTO_PIPELINE_FACE_THRESHOLD"));

  auto invalid = [](auto mutate) {
    DetectConfig d;
    mutate(d);
    return d.Validate().reason();
  };
  EXPECT_EQ(invalid([](DetectConfig&) {}), "");
  EXPECT_EQ(invalid([](DetectConfig& d) { d.face_model = "yolo"; }), "invalid_config");
  EXPECT_EQ(invalid([](DetectConfig& d) { d.face_threshold = 1.5; }), "invalid_config");
  EXPECT_EQ(invalid([](DetectConfig& d) { d.face_tile_px = 10; }), "invalid_config");
  EXPECT_EQ(invalid([](DetectConfig& d) { d.face_candidate_threshold = -0.1; }),
            "invalid_config");
  EXPECT_EQ(invalid([](DetectConfig& d) { d.face_min_long_edge = 10; }), "invalid_config");
  EXPECT_EQ(invalid([](DetectConfig& d) { d.face_max_passes = -1; }), "invalid_config");
  EXPECT_EQ(invalid([](DetectConfig& d) { d.review_rules = "nsfw>=0.5"; }), "invalid_config");
  EXPECT_EQ(invalid([](DetectConfig& d) { d.classifier_model = "/m.onnx"; }), "invalid_config");
  EXPECT_EQ(invalid([](DetectConfig& d) { d.dominant_colors = 0; }), "invalid_config");
}

TEST(DetectConfigTest, PrepareReportsAMissingModel) {
  DetectConfig c;
  c.face_model_dir = "/nonexistent";
  Status s = PrepareDetect(c);
  EXPECT_EQ(s.reason(), "model_missing");
  EXPECT_THAT(s.message(), HasSubstr("fetch-models.sh"));
  EXPECT_TRUE(PrepareDetect(DetectConfig{}).ok()) << "run scripts/fetch-models.sh";
}

}  // namespace
}  // namespace photo::pipeline
