#include <vips/vips8>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <opencv2/imgproc.hpp>

#include "photo/detect/analyzer.h"
#include "photo/detect/checks.h"
#include "photo/detect/classifier.h"
#include "photo/detect/crop.h"
#include "photo/detect/faces.h"
#include "photo/detect/image_io.h"
#include "photo/image/vips.h"

namespace photo::detect {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const fs::path kSkimage = PHOTO_SKIMAGE_DATA;

// Debian's python3-skimage test pictures (setup installs it).
cv::Mat LoadSkimage(const char* name) {
  auto m = DecodeBgr(kSkimage / name);
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().ToString())
                      << " (install python3-skimage: scripts/setup.sh)";
  return m.ok() ? *m : cv::Mat();
}

// The face model is installed by scripts/setup.sh; its absence is a broken
// checkout, so the test fails (never skips) and says how to fix it.
std::unique_ptr<FaceDetector> CreateOrFail(const FaceOptions& o) {
  auto d = FaceDetector::Create(o);
  EXPECT_TRUE(d.ok()) << d.error().ToString()
                      << "\nThe face model is missing: run scripts/fetch-models.sh";
  return d.ok() ? std::move(*d) : nullptr;
}

// The pass structure alone (tile, candidates): no enlarging, mirroring or
// pass bound.
std::unique_ptr<FaceDetector> MakeFaceDetector(FaceModelKind kind, int tile = 512,
                                               double candidate = 0.2) {
  FaceOptions o;
  o.kind = kind;
  o.model_dir = DefaultModelDir();
  o.tile_px = tile;
  o.candidate_threshold = candidate;
  o.min_long_edge = 0;
  o.mirror = false;
  o.max_passes = 0;
  return CreateOrFail(o);
}

std::unique_ptr<FaceDetector> MakeDefaultFaceDetector() {
  FaceOptions o;
  o.model_dir = DefaultModelDir();
  return CreateOrFail(o);
}

cv::Mat Gradient(int w, int h) {
  cv::Mat m(h, w, CV_8UC3);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x)
      m.at<cv::Vec3b>(y, x) = cv::Vec3b(static_cast<uchar>(x * 255 / w),
                                        static_cast<uchar>(y * 255 / h), 128);
  return m;
}

// Encodes BGR pixels as JPEG with libvips and decodes them again.
cv::Mat JpegRoundTrip(const cv::Mat& bgr, int quality) {
  image::InitVips();
  cv::Mat rgb;
  cv::cvtColor(bgr, rgb, cv::COLOR_BGR2RGB);
  vips::VImage img = vips::VImage::new_from_memory(rgb.data, rgb.total() * 3, rgb.cols, rgb.rows,
                                                   3, VIPS_FORMAT_UCHAR);
  void* buf = nullptr;
  size_t len = 0;
  img.write_to_buffer(".jpg", &buf, &len, vips::VImage::option()->set("Q", quality));
  std::string bytes(static_cast<char*>(buf), len);
  g_free(buf);
  auto out = DecodeBgrBuffer(bytes);
  EXPECT_TRUE(out.ok());
  return out.ok() ? *out : cv::Mat();
}

TEST(FacesTest, FindsTheAstronautsFace) {
  for (auto kind : {FaceModelKind::kBlazeFaceBack256, FaceModelKind::kBlazeFaceFront128}) {
    SCOPED_TRACE(FaceModelName(kind));
    auto det = MakeFaceDetector(kind);
    ASSERT_NE(det, nullptr);
    cv::Mat img = LoadSkimage("astronaut.png");
    ASSERT_EQ(img.cols, 512);
    auto faces = det->Detect(img);
    ASSERT_TRUE(faces.ok()) << faces.error().ToString();
    ASSERT_EQ(faces->size(), 1u);
    const image::Box& b = faces->front();
    // Eileen Collins' face occupies roughly x 150..260, y 60..200: the box's
    // centre lies inside that region, its edges near it.
    const int cx = b.x + b.width / 2, cy = b.y + b.height / 2;
    EXPECT_THAT(cx, ::testing::AllOf(::testing::Ge(150), ::testing::Le(260)));
    EXPECT_THAT(cy, ::testing::AllOf(::testing::Ge(60), ::testing::Le(200)));
    EXPECT_GE(b.x, 130);
    EXPECT_LE(b.x + b.width, 285);
    EXPECT_GE(b.y, 40);
    EXPECT_LE(b.y + b.height, 220);
    EXPECT_GT(b.width, 60);
    EXPECT_GT(b.height, 60);
    EXPECT_GE(b.score, 0.75f);
    std::printf("%s: box x=%d y=%d w=%d h=%d score=%.3f\n", det->name().c_str(), b.x, b.y,
                b.width, b.height, static_cast<double>(b.score));
  }
}

TEST(FacesTest, TilingStillFindsOneFaceOnAnEnlargedAstronaut) {
  auto det = MakeFaceDetector(FaceModelKind::kBlazeFaceBack256, 512);
  ASSERT_NE(det, nullptr);
  cv::Mat img = LoadSkimage("astronaut.png"), big;
  cv::resize(img, big, cv::Size(1280, 1280), 0, 0, cv::INTER_LINEAR);
  auto faces = det->Detect(big);
  ASSERT_TRUE(faces.ok());
  ASSERT_EQ(faces->size(), 1u) << "tile and whole-image passes must merge into one face";
  const image::Box& b = faces->front();
  const int cx = b.x + b.width / 2, cy = b.y + b.height / 2;
  EXPECT_GT(cx, 150 * 2.5);
  EXPECT_LT(cx, 260 * 2.5);
  EXPECT_GT(cy, 60 * 2.5);
  EXPECT_LT(cy, 200 * 2.5);
}

// A crowd of small faces: the astronaut shrunk to `face` px, pasted in a
// grid on a grey 1280x960 canvas.
cv::Mat SmallFaces(int face, int count) {
  cv::Mat canvas(960, 1280, CV_8UC3, cv::Scalar(110, 120, 130)), small;
  cv::resize(LoadSkimage("astronaut.png"), small, cv::Size(face, face), 0, 0, cv::INTER_AREA);
  for (int i = 0; i < count; ++i) {
    const int x = 60 + (i % 4) * 300, y = 80 + (i / 4) * 300;
    small.copyTo(canvas(cv::Rect(x, y, face, face)));
  }
  return canvas;
}

TEST(FacesTest, CandidateTilesFindTheSmallFacesTheGridFinds) {
  const cv::Mat crowd = SmallFaces(200, 8);
  auto whole = MakeFaceDetector(FaceModelKind::kBlazeFaceBack256, 0);
  auto grid = MakeFaceDetector(FaceModelKind::kBlazeFaceBack256, 512, 0.0);
  auto cand = MakeFaceDetector(FaceModelKind::kBlazeFaceBack256, 512, 0.2);
  ASSERT_TRUE(whole && grid && cand);
  auto w = whole->Detect(crowd), g = grid->Detect(crowd), c = cand->Detect(crowd);
  ASSERT_TRUE(w.ok() && g.ok() && c.ok());
  std::printf("small faces found: whole %zu, grid %zu, candidates %zu of 8\n", w->size(),
              g->size(), c->size());
  // The case tiling exists for: the whole-image pass alone misses some.
  EXPECT_LT(w->size(), 8u);
  EXPECT_EQ(g->size(), 8u);
  EXPECT_EQ(c->size(), 8u);
  EXPECT_EQ(cand->name(), "blazeface-back-256+tiles512-cand");
  EXPECT_EQ(grid->name(), "blazeface-back-256+tiles512");
}

// The table in docs/stages/detect.md (faces found per crowd size and mode);
// a measurement, not a check, so it is off by default:
//   detect_test --gtest_also_run_disabled_tests --gtest_filter='*CandidateSweep*'
TEST(FacesTest, DISABLED_CandidateSweep) {
  auto whole = MakeFaceDetector(FaceModelKind::kBlazeFaceBack256, 0);
  auto grid = MakeFaceDetector(FaceModelKind::kBlazeFaceBack256, 512, 0.0);
  auto c1 = MakeFaceDetector(FaceModelKind::kBlazeFaceBack256, 512, 0.1);
  auto c2 = MakeFaceDetector(FaceModelKind::kBlazeFaceBack256, 512, 0.2);
  FaceOptions packing = c2->options();
  packing.pack_windows = true;
  auto c3 = CreateOrFail(packing);
  ASSERT_TRUE(whole && grid && c1 && c2 && c3);
  for (int face : {140, 160, 180, 200, 220, 240}) {
    const cv::Mat crowd = SmallFaces(face, 8);
    std::vector<FacePass> one_each, packed;
    const size_t found = c2->Detect(crowd, &one_each)->size();
    const size_t found_packed = c3->Detect(crowd, &packed)->size();
    std::printf(
        "%d px: whole %zu, grid %zu, cand=0.1 %zu, cand=0.2 %zu (%zu passes), "
        "packed windows %zu (%zu passes) of 8\n",
        face, whole->Detect(crowd)->size(), grid->Detect(crowd)->size(), c1->Detect(crowd)->size(),
        found, one_each.size(), found_packed, packed.size());
  }
}

// A small group picture: six people on a 480x360 canvas, faces about 30 px
// (the astronaut, 512 px with a ~110 px face, shrunk to 140 px).
cv::Mat SmallGroup() {
  cv::Mat canvas(360, 480, CV_8UC3, cv::Scalar(110, 120, 130)), small;
  cv::resize(LoadSkimage("astronaut.png"), small, cv::Size(140, 140), 0, 0, cv::INTER_AREA);
  for (int i = 0; i < 6; ++i) {
    small.copyTo(canvas(cv::Rect(15 + (i % 3) * 155, 30 + (i / 3) * 170, 140, 140)));
  }
  return canvas;
}

TEST(FacesTest, EnlargingASmallPictureFindsItsSmallFaces) {
  const cv::Mat group = SmallGroup();
  auto plain = MakeFaceDetector(FaceModelKind::kBlazeFaceBack256);
  auto dflt = MakeDefaultFaceDetector();
  ASSERT_TRUE(plain && dflt);
  std::vector<FacePass> passes;
  auto p = plain->Detect(group), d = dflt->Detect(group, &passes);
  ASSERT_TRUE(p.ok() && d.ok());
  std::printf("small group: %zu without enlarging, %zu with (of 6)\n", p->size(), d->size());
  // The trace is in the input's pixels too: the first pass is the whole
  // picture, and every window lies inside it.
  ASSERT_GE(passes.size(), 2u);
  EXPECT_TRUE(passes[0].whole);
  EXPECT_EQ(passes[0].window, cv::Rect(0, 0, group.cols, group.rows));
  for (const FacePass& pass : passes) {
    EXPECT_EQ(pass.window & cv::Rect(0, 0, group.cols, group.rows), pass.window);
    EXPECT_GE(pass.cpu_ms, 0.0);
  }
  EXPECT_LT(p->size(), 6u);
  ASSERT_EQ(d->size(), 6u);
  // Boxes come back in the input's coordinates: each sits on one copy's face.
  for (const image::Box& b : *d) {
    EXPECT_GE(b.x, 0);
    EXPECT_LE(b.x + b.width, group.cols);
    EXPECT_LE(b.y + b.height, group.rows);
    EXPECT_LT(b.width, 60);
    EXPECT_GT(b.width, 15);
  }
}

TEST(FacesTest, MirroredPassMapsBoxesBack) {
  cv::Mat img = LoadSkimage("astronaut.png");
  auto plain = MakeFaceDetector(FaceModelKind::kBlazeFaceBack256, 0);
  auto dflt = MakeDefaultFaceDetector();
  ASSERT_TRUE(plain && dflt);
  EXPECT_EQ(dflt->name(), "blazeface-back-256+tiles512-cand+up1024+mirror");
  for (bool flipped : {false, true}) {
    cv::Mat in = img;
    if (flipped) cv::flip(img, in, 1);
    auto p = plain->Detect(in), d = dflt->Detect(in);
    ASSERT_TRUE(p.ok() && d.ok());
    ASSERT_EQ(p->size(), 1u);
    // One face, where the plain pass puts it: a box mirrored the wrong way
    // would land on the other side and count as a second face.
    ASSERT_EQ(d->size(), 1u) << "flipped=" << flipped;
    EXPECT_GT(IoU(p->front(), d->front()), 0.6) << "flipped=" << flipped;
  }
}

// Mirrored passes run only where the plain pass left something close to
// the threshold: a face-free picture costs one inference, and a lone
// astronaut, accepted whole, gets no mirrored whole-image pass.
TEST(FacesTest, MirroredPassesRunOnlyWhereTheyCanAddAFace) {
  auto dflt = MakeDefaultFaceDetector();
  ASSERT_NE(dflt, nullptr);
  std::vector<FacePass> passes;
  auto g = dflt->Detect(Gradient(1280, 853), &passes);
  ASSERT_TRUE(g.ok());
  EXPECT_THAT(*g, IsEmpty());
  ASSERT_EQ(passes.size(), 1u);
  EXPECT_TRUE(passes[0].whole);
  EXPECT_FALSE(passes[0].mirrored);
  EXPECT_EQ(passes[0].window, cv::Rect(0, 0, 1280, 853));

  passes.clear();
  auto a = dflt->Detect(LoadSkimage("astronaut.png"), &passes);
  ASSERT_TRUE(a.ok());
  ASSERT_EQ(a->size(), 1u);
  for (const FacePass& p : passes) EXPECT_FALSE(p.whole && p.mirrored);

  // Mirroring every pass (mirror_swing 0) finds the same face at more cost.
  FaceOptions all = dflt->options();
  all.mirror_swing = 0;
  auto every = CreateOrFail(all);
  ASSERT_NE(every, nullptr);
  std::vector<FacePass> every_passes;
  auto e = every->Detect(LoadSkimage("astronaut.png"), &every_passes);
  ASSERT_TRUE(e.ok());
  ASSERT_EQ(e->size(), 1u);
  EXPECT_GT(IoU(a->front(), e->front()), 0.8);
  EXPECT_GT(every_passes.size(), passes.size());
}

// Windows packed over neighbouring candidates find what one window per
// candidate finds, with no more inferences (a group of 12 small faces, two
// rows of 6 in the middle of the picture).
TEST(FacesTest, PackedWindowsFindWhatCentredWindowsFind) {
  cv::Mat crowd(960, 1280, CV_8UC3, cv::Scalar(110, 120, 130)), small;
  cv::resize(LoadSkimage("astronaut.png"), small, cv::Size(180, 180), 0, 0, cv::INTER_AREA);
  for (int i = 0; i < 12; ++i) {
    small.copyTo(crowd(cv::Rect(40 + (i % 6) * 200, 280 + (i / 6) * 200, 180, 180)));
  }
  auto centred = MakeFaceDetector(FaceModelKind::kBlazeFaceBack256, 512, 0.2);
  ASSERT_NE(centred, nullptr);
  FaceOptions o = centred->options();
  o.pack_windows = true;
  auto packed = CreateOrFail(o);
  ASSERT_NE(centred, nullptr);
  std::vector<FacePass> pp, cp;
  auto p = packed->Detect(crowd, &pp), c = centred->Detect(crowd, &cp);
  ASSERT_TRUE(p.ok() && c.ok());
  std::printf("12 faces of ~40 px: packed %zu in %zu passes, centred %zu in %zu passes\n",
              p->size(), pp.size(), c->size(), cp.size());
  EXPECT_GE(p->size(), c->size());
  EXPECT_GE(p->size(), 11u);
  EXPECT_LT(pp.size(), cp.size());
}

TEST(FacesTest, NoFacesOnGradientOrCoffee) {
  auto det = MakeFaceDetector(FaceModelKind::kBlazeFaceBack256, 512);
  ASSERT_NE(det, nullptr);
  auto g = det->Detect(Gradient(1280, 853));
  ASSERT_TRUE(g.ok());
  EXPECT_THAT(*g, IsEmpty());
  auto c = det->Detect(LoadSkimage("coffee.png"));
  ASSERT_TRUE(c.ok());
  EXPECT_THAT(*c, IsEmpty());
  // The default's extra passes (enlarged, mirrored) must not invent faces:
  // a cat, a cup of coffee, a rocket, gravel.
  auto dflt = MakeDefaultFaceDetector();
  ASSERT_NE(dflt, nullptr);
  for (const char* name : {"coffee.png", "chelsea.png", "rocket.jpg", "gravel.png"}) {
    auto f = dflt->Detect(LoadSkimage(name));
    ASSERT_TRUE(f.ok());
    EXPECT_THAT(*f, IsEmpty()) << name;
  }
}

TEST(FacesTest, CascadeFloorFindsTheAstronaut) {
  auto det = MakeFaceDetector(FaceModelKind::kLbpImproved);
  ASSERT_NE(det, nullptr);
  auto faces = det->Detect(LoadSkimage("astronaut.png"));
  ASSERT_TRUE(faces.ok());
  ASSERT_EQ(faces->size(), 1u);
  EXPECT_NEAR(faces->front().x + faces->front().width / 2, 205, 40);
}

TEST(FacesTest, MissingModelIsAClearError) {
  FaceOptions o;
  o.model_dir = "/nonexistent/models";
  auto d = FaceDetector::Create(o);
  ASSERT_FALSE(d.ok());
  EXPECT_EQ(d.error().reason(), "model_missing");
  EXPECT_THAT(d.error().message(), HasSubstr("fetch-models.sh"));
}

TEST(FacesTest, RejectsBadInput) {
  auto det = MakeFaceDetector(FaceModelKind::kBlazeFaceBack256);
  ASSERT_NE(det, nullptr);
  EXPECT_EQ(det->Detect(cv::Mat()).error().reason(), "invalid_image");
  EXPECT_EQ(det->Detect(cv::Mat(10, 10, CV_8UC1)).error().reason(), "invalid_image");
}

TEST(FacesTest, ParseFaceModelRoundTrips) {
  for (auto k : {FaceModelKind::kBlazeFaceFront128, FaceModelKind::kBlazeFaceBack256,
                 FaceModelKind::kHaarDefault, FaceModelKind::kLbpImproved}) {
    auto p = ParseFaceModel(FaceModelName(k));
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(*p, k);
  }
  EXPECT_FALSE(ParseFaceModel("yolo").ok());
}

TEST(CropTest, BoxIsTheLargestOfTheTargetAspect) {
  EXPECT_EQ(CropBoxSize({1280, 720}, {320, 320}), cv::Size(720, 720));
  EXPECT_EQ(CropBoxSize({720, 1280}, {320, 320}), cv::Size(720, 720));
  EXPECT_EQ(CropBoxSize({1280, 960}, {400, 200}), cv::Size(1280, 640));
  EXPECT_EQ(CropBoxSize({100, 100}, {16, 9}), cv::Size(100, 56));
}

TEST(CropTest, KeepsEveryFaceThatFitsElseTheLargest) {
  // Two faces at the far ends of a wide picture: no square holds both.
  const std::vector<image::Box> faces = {{20, 300, 60, 60, 0.9f}, {1100, 200, 150, 150, 0.9f}};
  auto c = ChooseFaceCrop({1280, 720}, {320, 320}, faces);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->method, "faces");
  EXPECT_EQ(c->faces, 1);
  EXPECT_EQ(c->box.size(), cv::Size(720, 720));
  EXPECT_LE(c->box.x, 1100);  // the larger face is the one kept
  EXPECT_GE(c->box.br().x, 1250);
  // Three faces within 700 px: all kept.
  const std::vector<image::Box> group = {
      {300, 100, 80, 80, 0.9f}, {600, 120, 90, 90, 0.9f}, {900, 90, 70, 70, 0.9f}};
  c = ChooseFaceCrop({1280, 720}, {320, 320}, group);
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->faces, 3);
  EXPECT_FALSE(ChooseFaceCrop({1280, 720}, {320, 320}, {}).has_value());
}

// Real faces: the astronaut (skimage, a real photo), placed at either end of
// a wide picture and in a tall one; the detected face must be inside the
// square crop.
TEST(CropTest, RealFaceStaysInsideASquareThumbnail) {
  auto det = MakeDefaultFaceDetector();
  ASSERT_NE(det, nullptr);
  const cv::Mat astronaut = LoadSkimage("astronaut.png");
  for (int where : {0, 1, 2}) {
    cv::Mat canvas(where == 2 ? 1280 : 512, where == 2 ? 512 : 1280, CV_8UC3,
                   cv::Scalar(120, 110, 100));
    const cv::Rect at = where == 0   ? cv::Rect(0, 0, 512, 512)
                        : where == 1 ? cv::Rect(1280 - 512, 0, 512, 512)
                                     : cv::Rect(0, 1280 - 512, 512, 512);
    astronaut.copyTo(canvas(at));
    auto faces = det->Detect(canvas);
    ASSERT_TRUE(faces.ok());
    ASSERT_EQ(faces->size(), 1u) << where;
    auto c = ChooseCrop(canvas, {320, 320}, *faces);
    ASSERT_TRUE(c.ok()) << c.error().ToString();
    EXPECT_EQ(c->method, "faces");
    const image::Box& f = faces->front();
    const cv::Rect face(f.x, f.y, f.width, f.height);
    EXPECT_EQ(face & c->box, face) << where;
    auto enc = EncodeCrop(canvas, c->box, {320, 320}, image::OutputFormat::kJpeg, 80);
    ASSERT_TRUE(enc.ok()) << enc.error().ToString();
    EXPECT_EQ(enc->width, 320);
    EXPECT_EQ(enc->height, 320);
  }
}

TEST(CropTest, NoFacesUsesLibvipsAttentionCrop) {
  // A bright red disc on the left of a dull grey picture: the attention crop
  // goes there, where a centred crop would not.
  cv::Mat img(400, 1200, CV_8UC3, cv::Scalar(128, 128, 128));
  cv::circle(img, {150, 200}, 80, cv::Scalar(0, 0, 255), cv::FILLED);
  auto c = ChooseCrop(img, {100, 100}, {});
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(c->method, "attention");
  EXPECT_EQ(c->faces, 0);
  EXPECT_EQ(c->box.size(), cv::Size(400, 400));
  EXPECT_LE(c->box.x, 70);
  auto direct = AttentionCrop(img, {100, 100});
  ASSERT_TRUE(direct.ok());
  EXPECT_EQ(*direct, c->box);
  // The real coffee photo: no face, the attention crop decides.
  auto coffee = ChooseCrop(LoadSkimage("coffee.png"), {200, 200}, {});
  ASSERT_TRUE(coffee.ok());
  EXPECT_EQ(coffee->method, "attention");
}

TEST(CropTest, EncodeRejectsABoxOutsideTheImage) {
  cv::Mat img(100, 100, CV_8UC3, cv::Scalar::all(0));
  EXPECT_EQ(EncodeCrop(img, {50, 50, 80, 80}, {32, 32}, image::OutputFormat::kJpeg, 80)
                .error()
                .reason(),
            "invalid_crop");
  // Smaller than the target: kept at its own size, never enlarged.
  auto small = EncodeCrop(img, {0, 0, 40, 40}, {64, 64}, image::OutputFormat::kPng, 80);
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->width, 40);
}

TEST(NmsTest, MergesOverlapsAndKeepsSeparateBoxes) {
  std::vector<image::Box> in = {
      {0, 0, 100, 100, 0.9f}, {10, 0, 100, 100, 0.6f}, {300, 300, 50, 50, 0.7f}};
  auto out = WeightedNms(in, 0.3);
  ASSERT_EQ(out.size(), 2u);
  EXPECT_FLOAT_EQ(out[0].score, 0.9f);
  EXPECT_EQ(out[0].x, 4);  // (0*0.9 + 10*0.6) / 1.5
  EXPECT_EQ(out[1].x, 300);
  EXPECT_DOUBLE_EQ(IoU({0, 0, 10, 10, 0}, {0, 0, 10, 10, 0}), 1.0);
  EXPECT_DOUBLE_EQ(IoU({0, 0, 10, 10, 0}, {20, 20, 10, 10, 0}), 0.0);
}

TEST(HashTest, ResizedAndRecompressedCopyIsNear) {
  cv::Mat a = LoadSkimage("astronaut.png"), small;
  cv::resize(a, small, cv::Size(300, 300), 0, 0, cv::INTER_AREA);
  cv::Mat copy = JpegRoundTrip(small, 40);
  auto ha = PerceptualHash(a), hc = PerceptualHash(copy);
  ASSERT_TRUE(ha.ok() && hc.ok());
  EXPECT_LE(HammingDistance(*ha, *hc), 6);
}

TEST(HashTest, DifferentImagesAreFar) {
  auto ha = PerceptualHash(LoadSkimage("astronaut.png"));
  auto hb = PerceptualHash(LoadSkimage("coffee.png"));
  auto hc = PerceptualHash(LoadSkimage("chelsea.png"));
  ASSERT_TRUE(ha.ok() && hb.ok() && hc.ok());
  EXPECT_GE(HammingDistance(*ha, *hb), 20);
  EXPECT_GE(HammingDistance(*ha, *hc), 20);
  EXPECT_GE(HammingDistance(*hb, *hc), 20);
}

TEST(HashTest, HammingDistanceCountsBits) {
  EXPECT_EQ(HammingDistance(0, 0), 0);
  EXPECT_EQ(HammingDistance(0, ~0ull), 64);
  EXPECT_EQ(HammingDistance(0b1011, 0b0001), 2);
}

TEST(SharpnessTest, BlurLowersTheScoreAndSizeDoesNotMatter) {
  cv::Mat a = LoadSkimage("astronaut.png"), blurred, big;
  cv::GaussianBlur(a, blurred, cv::Size(0, 0), 3.0);
  auto sa = Sharpness(a), sb = Sharpness(blurred);
  ASSERT_TRUE(sa.ok() && sb.ok());
  EXPECT_LT(*sb, *sa / 4);
  EXPECT_LT(*sb, 100.0) << "default blur threshold must flag a sigma-3 blur";
  EXPECT_GT(*sa, 100.0);
  // Measured at a fixed analysis size: the same picture at 2x scores alike.
  cv::resize(a, big, cv::Size(1600, 1600), 0, 0, cv::INTER_CUBIC);
  auto sbig = Sharpness(big);
  ASSERT_TRUE(sbig.ok());
  EXPECT_NEAR(*sbig, *sa, *sa * 0.35);
}

TEST(ColorsTest, SolidRedIsRed) {
  auto c = DominantColors(cv::Mat(120, 160, CV_8UC3, cv::Scalar(0, 0, 255)));
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ(c->front().hex, "#ff0000");
  EXPECT_DOUBLE_EQ(c->front().share, 1.0);
}

TEST(ColorsTest, SharesFollowAreas) {
  cv::Mat m(100, 100, CV_8UC3, cv::Scalar(255, 0, 0));  // blue
  m(cv::Rect(0, 0, 25, 100)).setTo(cv::Scalar(0, 255, 255));  // yellow quarter
  auto c = DominantColors(m, 3);
  ASSERT_TRUE(c.ok());
  ASSERT_GE(c->size(), 2u);
  EXPECT_EQ((*c)[0].hex, "#0000ff");
  EXPECT_NEAR((*c)[0].share, 0.75, 0.03);
  EXPECT_EQ((*c)[1].hex, "#ffff00");
  auto again = DominantColors(m, 3);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->front().hex, c->front().hex) << "must be deterministic";
}

TEST(ChecksTest, RejectEmptyInput) {
  EXPECT_FALSE(PerceptualHash(cv::Mat()).ok());
  EXPECT_FALSE(Sharpness(cv::Mat()).ok());
  EXPECT_FALSE(DominantColors(cv::Mat()).ok());
}

// A JPEG with EXIF camera, date and GPS tags, written by libvips from
// exif-ifd* string fields.
fs::path WriteExifJpeg(const fs::path& dir, bool with_tags) {
  image::InitVips();
  vips::VImage img = vips::VImage::black(64, 48, vips::VImage::option()->set("bands", 3)) + 100;
  img = img.cast(VIPS_FORMAT_UCHAR).copy();
  if (with_tags) {
    img.set("exif-ifd0-Make", "PhotoTest");
    img.set("exif-ifd0-Model", "Synth 1");
    img.set("exif-ifd2-DateTimeOriginal", "2021:06:05 04:03:02");
    img.set("exif-ifd3-GPSLatitudeRef", "N");
    img.set("exif-ifd3-GPSLatitude", "48/1 51/1 296/10");
    img.set("exif-ifd3-GPSLongitudeRef", "E");
    img.set("exif-ifd3-GPSLongitude", "2/1 17/1 402/10");
    img.set("orientation", 6);
  }
  fs::path p = dir / (with_tags ? "tags.jpg" : "plain.jpg");
  img.jpegsave(p.c_str());
  return p;
}

TEST(ExifTest, SummaryFromHeader) {
  const fs::path dir = fs::path(::testing::TempDir()) / "detect_exif";
  fs::create_directories(dir);
  auto s = ReadExifSummary(WriteExifJpeg(dir, true));
  ASSERT_TRUE(s.ok()) << s.error().ToString();
  EXPECT_EQ(s->camera, "PhotoTest Synth 1");
  EXPECT_EQ(s->captured_at, "2021:06:05 04:03:02");
  EXPECT_TRUE(s->gps_present);
  EXPECT_EQ(s->orientation, 6);

  auto plain = ReadExifSummary(WriteExifJpeg(dir, false));
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->camera, "");
  EXPECT_EQ(plain->captured_at, "");
  EXPECT_FALSE(plain->gps_present);
  EXPECT_EQ(plain->orientation, 1);

  EXPECT_EQ(ReadExifSummary(dir / "missing.jpg").error().reason(), "not_found");
  std::ofstream(dir / "junk.jpg") << "not an image";
  EXPECT_EQ(ReadExifSummary(dir / "junk.jpg").error().reason(), "corrupt_image");
}

TEST(ExifTest, FieldValueParsing) {
  EXPECT_EQ(ExifFieldValue("NIKON (NIKON, ASCII, 6 components, 6 bytes)"), "NIKON");
  EXPECT_EQ(ExifFieldValue("Cam (v2) (Cam (v2), ASCII, 9 components, 9 bytes)"), "Cam (v2)");
  EXPECT_EQ(ExifFieldValue("plain"), "plain");
}

// --- classifier ---------------------------------------------------------

ClassifierOptions TestClassifier() {
  ClassifierOptions o;
  o.model = PHOTO_TEST_CLASSIFIER_ONNX;
  o.labels = fs::path(::testing::TempDir()) / "detect_labels.txt";
  std::ofstream(o.labels) << "bright\ndark\n";
  o.input_width = o.input_height = 32;
  o.scale = 1.0 / 255.0;
  return o;
}

TEST(ClassifierTest, ScoresFollowBrightness) {
  auto c = Classifier::Create(TestClassifier());
  ASSERT_TRUE(c.ok()) << c.error().ToString()
                      << " (the test model is built with Debian's python3-onnx)";
  auto white = (*c)->Classify(cv::Mat(50, 50, CV_8UC3, cv::Scalar::all(255)));
  ASSERT_TRUE(white.ok());
  EXPECT_EQ(white->front().label, "bright");
  EXPECT_NEAR(white->front().score, 1.0, 1e-3);
  auto dark = (*c)->Classify(cv::Mat(50, 50, CV_8UC3, cv::Scalar::all(51)));
  ASSERT_TRUE(dark.ok());
  EXPECT_EQ(dark->front().label, "dark");
  EXPECT_NEAR(dark->front().score, 0.8, 1e-3);
}

TEST(ClassifierTest, LabelCountMustMatch) {
  ClassifierOptions o = TestClassifier();
  std::ofstream(o.labels) << "only-one\n";
  auto c = Classifier::Create(o);
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.error().reason(), "invalid_config");
}

TEST(ReviewRulesTest, Parse) {
  auto r = ParseReviewRules(" nsfw>=0.5, weapon >= 0.7 ,");
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->size(), 2u);
  EXPECT_EQ((*r)[0].label, "nsfw");
  EXPECT_DOUBLE_EQ((*r)[0].threshold, 0.5);
  EXPECT_EQ((*r)[1].label, "weapon");
  EXPECT_DOUBLE_EQ((*r)[1].threshold, 0.7);
  EXPECT_TRUE(ParseReviewRules("")->empty());
  for (const char* bad : {"nsfw", "nsfw>0.5", ">=0.5", "nsfw>=x", "nsfw>=0.5x"}) {
    auto b = ParseReviewRules(bad);
    ASSERT_FALSE(b.ok()) << bad;
    EXPECT_EQ(b.error().reason(), "invalid_config");
  }
}

TEST(AnalyzerTest, RulesFlipSafeAndReview) {
  AnalyzerOptions o;
  o.faces = false;
  o.classifier = TestClassifier();
  o.review_rules = *ParseReviewRules("bright>=0.5");
  auto a = Analyzer::Create(o);
  ASSERT_TRUE(a.ok()) << a.error().ToString();
  auto white = (*a)->Analyze(cv::Mat(64, 64, CV_8UC3, cv::Scalar::all(230)));
  ASSERT_TRUE(white.ok());
  EXPECT_EQ(white->content_status, "review");
  ASSERT_EQ(white->reasons.size(), 1u);
  EXPECT_THAT(white->reasons[0], HasSubstr("bright"));
  EXPECT_THAT(white->checks_ran, ElementsAre("phash", "sharpness", "colors", "classifier"));
  auto black = (*a)->Analyze(cv::Mat(64, 64, CV_8UC3, cv::Scalar::all(20)));
  ASSERT_TRUE(black.ok());
  EXPECT_EQ(black->content_status, "safe");
  EXPECT_THAT(black->reasons, IsEmpty());
  EXPECT_EQ(black->labels.size(), 2u);
}

TEST(AnalyzerTest, WithoutClassifierContentIsUnknown) {
  AnalyzerOptions o;
  o.face.model_dir = DefaultModelDir();
  auto a = Analyzer::Create(o);
  ASSERT_TRUE(a.ok()) << a.error().ToString() << " (run scripts/fetch-models.sh)";
  auto d = (*a)->Analyze(LoadSkimage("astronaut.png"));
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->content_status, "unknown");
  EXPECT_THAT(d->checks_ran, ElementsAre("faces", "phash", "sharpness", "colors"));
  EXPECT_EQ(d->face_count, 1);
  EXPECT_EQ(d->face_model, "blazeface-back-256+tiles512-cand+up1024+mirror");
  EXPECT_EQ(d->analysed_width, 512);
  EXPECT_FALSE(d->blurry);
  EXPECT_THAT(d->labels, IsEmpty());
}

TEST(AnalyzerTest, RulesNeedAClassifierWithThatLabel) {
  AnalyzerOptions o;
  o.faces = false;
  o.review_rules = *ParseReviewRules("nsfw>=0.5");
  EXPECT_EQ(Analyzer::Create(o).error().reason(), "invalid_config");
  o.classifier = TestClassifier();
  auto a = Analyzer::Create(o);
  ASSERT_FALSE(a.ok());
  EXPECT_THAT(a.error().message(), HasSubstr("nsfw"));
}

// A plain JPEG at full size is decoded by libjpeg-turbo directly (the detect
// stage's renditions): the pixels must be exactly libvips' (its lossless PNG
// copy goes through libvips), so detection sees the same image. An EXIF
// orientation still goes through libvips, upright.
TEST(ImageIoTest, PlainJpegDecodesToLibvipsPixels) {
  image::InitVips();
  cv::Mat photo = LoadSkimage("astronaut.png");
  ASSERT_FALSE(photo.empty());
  cv::Mat rgb;
  cv::cvtColor(photo, rgb, cv::COLOR_BGR2RGB);
  vips::VImage img = vips::VImage::new_from_memory(rgb.data, rgb.total() * 3, rgb.cols, rgb.rows,
                                                   3, VIPS_FORMAT_UCHAR);
  for (const char* options : {"[Q=82,subsample_mode=on]", "[Q=95]", "[Q=82,interlace]"}) {
    SCOPED_TRACE(options);
    void* buf = nullptr;
    size_t len = 0;
    img.write_to_buffer((std::string(".jpg") + options).c_str(), &buf, &len);
    std::string jpeg(static_cast<char*>(buf), len);
    g_free(buf);
    vips::VImage via_vips = vips::VImage::new_from_buffer(jpeg, "");
    buf = nullptr;
    via_vips.write_to_buffer(".png", &buf, &len);
    std::string png(static_cast<char*>(buf), len);
    g_free(buf);
    auto fast = DecodeBgrBuffer(jpeg);
    auto reference = DecodeBgrBuffer(png);
    ASSERT_TRUE(fast.ok() && reference.ok());
    ASSERT_EQ(fast->size(), reference->size());
    EXPECT_EQ(cv::norm(*fast, *reference, cv::NORM_INF), 0.0);
  }
  // Orientation 6 (rotate 90 clockwise): libvips applies it.
  vips::VImage tagged = img.copy();
  tagged.set("orientation", 6);
  void* buf = nullptr;
  size_t len = 0;
  tagged.write_to_buffer(".jpg", &buf, &len);
  std::string jpeg(static_cast<char*>(buf), len);
  g_free(buf);
  auto upright = DecodeBgrBuffer(jpeg);
  ASSERT_TRUE(upright.ok());
  EXPECT_EQ(upright->cols, photo.rows);
  EXPECT_EQ(upright->rows, photo.cols);
}

}  // namespace
}  // namespace photo::detect
