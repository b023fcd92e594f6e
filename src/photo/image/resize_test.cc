#include "photo/image/resize.h"

#include <gtest/gtest.h>
#include <vips/vips8>

#include <cmath>
#include <cstring>

#include "photo/image/testing/synth.h"

namespace photo::image {
namespace {

using testing::SynthFormat;
using testing::SynthOptions;
using vips::VImage;

// Decodes while `bytes` is alive (new_from_buffer does not copy).
VImage Decode(const std::string& bytes) { return VImage::new_from_buffer(bytes, "").copy_memory(); }

std::vector<RenditionSpec> Specs(std::vector<int> edges, OutputFormat f = OutputFormat::kJpeg) {
  std::vector<RenditionSpec> specs;
  for (size_t i = 0; i < edges.size(); ++i) {
    // append() rather than "r" + ...: GCC 12 -O3 reports a false -Wrestrict
    // on operator+(const char*, string&&).
    std::string name = "r";
    name.append(std::to_string(i));
    specs.push_back({name, edges[i], f, 85, false});
  }
  return specs;
}

RenditionSet MustMake(const std::string& bytes, const std::vector<RenditionSpec>& specs) {
  Result<RenditionSet> r = MakeRenditions(bytes, specs, Limits{});
  EXPECT_TRUE(r.has_value()) << r.error().ToString();
  if (!r.has_value()) return {};
  return *std::move(r);
}

// Every field libvips would turn into metadata on save.
void ExpectNoMetadata(const std::string& bytes) {
  VImage img = Decode(bytes);
  for (const char* field : {"exif-data", "xmp-data", "iptc-data", VIPS_META_ICC_NAME,
                            "exif-ifd3-GPSLatitude", "exif-ifd0-Make", "orientation"}) {
    EXPECT_EQ(img.get_typeof(field), 0) << field;
  }
  EXPECT_EQ(std::string_view(bytes).find("Exif"), std::string_view::npos);
  EXPECT_EQ(std::string_view(bytes).find("GPS"), std::string_view::npos);
  EXPECT_EQ(std::string_view(bytes).find("PhotoTest"), std::string_view::npos);
}

TEST(FitLongEdgeTest, KeepsAspectAndNeverUpscales) {
  EXPECT_EQ(FitLongEdge(4000, 3000, 320).width, 320);
  EXPECT_EQ(FitLongEdge(4000, 3000, 320).height, 240);
  EXPECT_EQ(FitLongEdge(3000, 4000, 320).width, 240);
  EXPECT_EQ(FitLongEdge(3000, 4000, 320).height, 320);
  EXPECT_EQ(FitLongEdge(200, 100, 320).width, 200);  // smaller: kept
  EXPECT_EQ(FitLongEdge(200, 100, 320).height, 100);
  EXPECT_EQ(FitLongEdge(10000, 10, 320).height, 1);  // never zero
  EXPECT_EQ(FitLongEdge(333, 333, 100).width, 100);
}

TEST(ResizeTest, DefaultRenditionsSizesAndOrder) {
  SynthOptions o;
  o.width = 3000;
  o.height = 2000;
  RenditionSet set = MustMake(testing::MakePhoto(o), DefaultRenditions());
  ASSERT_EQ(set.renditions.size(), 3u);
  EXPECT_EQ(set.renditions[0].name, "thumb");
  EXPECT_EQ(set.renditions[0].width, 320);
  EXPECT_EQ(set.renditions[0].height, 213);
  EXPECT_EQ(set.renditions[1].width, 1280);
  EXPECT_EQ(set.renditions[1].height, 853);
  EXPECT_EQ(set.renditions[2].width, 2560);
  EXPECT_EQ(set.renditions[2].height, 1707);
  for (const EncodedRendition& r : set.renditions) {
    VImage img = Decode(r.bytes);
    EXPECT_EQ(img.width(), r.width);
    EXPECT_EQ(img.height(), r.height);
    EXPECT_EQ(img.bands(), 3);
    EXPECT_EQ(img.format(), VIPS_FORMAT_UCHAR);
    EXPECT_EQ(std::string(img.get_string("vips-loader")), "jpegload_buffer");
  }
}

TEST(ResizeTest, NeverUpscales) {
  SynthOptions o;
  o.width = 300;
  o.height = 500;
  RenditionSet set = MustMake(testing::MakePhoto(o), Specs({500, 1280, 2560}));
  for (const EncodedRendition& r : set.renditions) {
    EXPECT_EQ(r.width, 300);
    EXPECT_EQ(r.height, 500);
  }
  EXPECT_EQ(set.renditions[0].width, 300);
}

TEST(ResizeTest, AspectRatioKeptAcrossFormats) {
  // HEIF/AVIF encoders are slow to start: small images keep the test fast.
  for (SynthFormat f : {SynthFormat::kJpeg, SynthFormat::kPng, SynthFormat::kWebp,
                        SynthFormat::kTiff, SynthFormat::kGif, SynthFormat::kHeif,
                        SynthFormat::kAvif}) {
    bool small = f == SynthFormat::kHeif || f == SynthFormat::kAvif || f == SynthFormat::kGif;
    SynthOptions o;
    o.width = small ? 180 : 900;
    o.height = small ? 80 : 400;
    o.format = f;
    int k = small ? 5 : 1;
    RenditionSet set = MustMake(testing::MakePhoto(o), Specs({450 / k, 90 / k}));
    ASSERT_EQ(set.renditions.size(), 2u);
    EXPECT_EQ(set.renditions[0].width, 450 / k) << static_cast<int>(f);
    EXPECT_EQ(set.renditions[0].height, 200 / k) << static_cast<int>(f);
    EXPECT_EQ(set.renditions[1].width, 90 / k) << static_cast<int>(f);
    EXPECT_EQ(set.renditions[1].height, 40 / k) << static_cast<int>(f);
    VImage img = Decode(set.renditions[0].bytes);
    EXPECT_EQ(img.width(), 450 / k);
    // The content survived (not a flat grey): the synthetic photo has a wide
    // range of values.
    EXPECT_GT(img.deviate(), 20.0) << static_cast<int>(f);
  }
}

TEST(ResizeTest, AllEightOrientationsComeOutUpright) {
  const int w = 400, h = 240;
  testing::MarkerLayout m = testing::MarkersFor(w, h);
  // One rendition per resampling path of the JPEG decoder: full size (none),
  // 300 (1.33x: bilinear), 240 (1.67x: bilinear to 2x, then the 2x area
  // filter), 200 (DCT scaling by 1/2). All must be upright, sized right and
  // keep the marker colours.
  const std::vector<int> edges = {400, 300, 240, 200};
  for (int orientation = 1; orientation <= 8; ++orientation) {
    RenditionSet set = MustMake(testing::MakeOrientedJpeg(orientation, w, h), Specs(edges));
    ASSERT_EQ(set.renditions.size(), edges.size());
    for (size_t k = 0; k < edges.size(); ++k) {
      const EncodedRendition& r = set.renditions[k];
      const double s = edges[k] / static_cast<double>(w);
      auto at = [s](int v) { return static_cast<int>(v * s); };
      ASSERT_EQ(r.width, edges[k]) << orientation;
      ASSERT_EQ(r.height, static_cast<int>(std::lround(h * s))) << orientation;
      VImage img = Decode(r.bytes);
      auto red = img.getpoint(at(m.red_cx), at(m.red_cy));
      auto green = img.getpoint(at(m.green_cx), at(m.green_cy));
      auto grey = img.getpoint(at(w / 2), at(h * 3 / 4));
      EXPECT_GT(red[0], 200) << "orientation " << orientation << " edge " << edges[k];
      EXPECT_LT(red[1], 60) << "orientation " << orientation << " edge " << edges[k];
      EXPECT_GT(green[1], 200) << "orientation " << orientation << " edge " << edges[k];
      EXPECT_LT(green[0], 60) << "orientation " << orientation << " edge " << edges[k];
      EXPECT_NEAR(grey[0], 128, 10) << orientation;
    }
  }
}

TEST(ResizeTest, UpsampledAreaResidualIsAsFaithfulAsTheAreaFilter) {
  // 1000 -> 600 is a 1.67x residual: bilinear to 1200, then the 2x area
  // filter, against the plain fractional area filter it replaced. Both are
  // compared with libvips' lanczos3 from the same decoded pixels.
  SynthOptions o;
  o.width = 1000;
  o.height = 750;
  const std::string photo = testing::MakePhoto(o);
  const std::vector<RenditionSpec> specs = {{"r", 600, OutputFormat::kPng, 85, false}};
  auto now = MakeRenditions(photo, specs, Limits{});
  auto area = MakeRenditions(photo, specs, Limits{}, {.upsampled_area = false});
  ASSERT_TRUE(now.ok() && area.ok());
  VImage source = Decode(photo);
  VImage lanczos = source.resize(0.6);
  VImage a = Decode(now->renditions[0].bytes), b = Decode(area->renditions[0].bytes);
  ASSERT_EQ(a.width(), 600);
  ASSERT_EQ(a.height(), 450);
  ASSERT_EQ(lanczos.width(), 600);
  const double err_now = (a - lanczos).abs().avg(), err_area = (b - lanczos).abs().avg();
  std::printf("mean error vs lanczos3: upsampled area %.3f, area %.3f\n", err_now, err_area);
  EXPECT_LT(err_now, err_area + 0.25);
  EXPECT_LT((a - b).abs().avg(), 2.0) << "the same picture";
  for (int band = 0; band < 3; ++band) {
    EXPECT_NEAR(a.extract_band(band).avg(), source.extract_band(band).avg(), 0.5) << band;
  }
}

TEST(ResizeTest, NoMetadataInAnyRendition) {
  std::string gps = testing::MakeJpegWithGps(800, 600);
  {
    // The fixture really carries GPS.
    VImage src = Decode(gps);
    ASSERT_NE(src.get_typeof("exif-ifd3-GPSLatitude"), 0);
  }
  std::vector<RenditionSpec> specs = {{"a", 400, OutputFormat::kJpeg, 80, false},
                                      {"b", 300, OutputFormat::kWebp, 80, false},
                                      {"c", 200, OutputFormat::kPng, 80, false},
                                      {"d", 100, OutputFormat::kAvif, 60, false}};
  RenditionSet set = MustMake(gps, specs);
  ASSERT_EQ(set.renditions.size(), 4u);
  for (const EncodedRendition& r : set.renditions) {
    SCOPED_TRACE(r.name);
    ExpectNoMetadata(r.bytes);
  }
  // ICC-tagged CMYK input: the profile does not travel either.
  RenditionSet cmyk = MustMake(testing::MakeCmykJpeg(320, 240), Specs({160}));
  ExpectNoMetadata(cmyk.renditions[0].bytes);
}

TEST(ResizeTest, ColourVariantsBecome8BitSrgbJpeg) {
  struct Case {
    const char* name;
    std::string bytes;
  };
  std::vector<Case> cases = {{"cmyk", testing::MakeCmykJpeg(320, 240)},
                             {"rgb16", testing::MakePng16(320, 240, false)},
                             {"grey16", testing::MakePng16(320, 240, true)},
                             {"grey", testing::MakeGreyJpeg(320, 240)},
                             {"rgba", testing::MakeRgbaPng(320, 240)}};
  // What the colours should be: the same synthetic photo, plain sRGB.
  SynthOptions o;
  o.width = 320;
  o.height = 240;
  o.format = SynthFormat::kPng;
  std::string reference_png = testing::MakePhoto(o);
  VImage reference = Decode(reference_png).resize(0.5);
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    RenditionSet set = MustMake(c.bytes, Specs({160}));
    ASSERT_EQ(set.renditions.size(), 1u);
    VImage img = Decode(set.renditions[0].bytes);
    EXPECT_EQ(img.bands(), 3);
    EXPECT_EQ(img.format(), VIPS_FORMAT_UCHAR);
    EXPECT_EQ(img.interpretation(), VIPS_INTERPRETATION_sRGB);
    EXPECT_EQ(img.width(), 160);
    if (std::string(c.name) == "cmyk" || std::string(c.name) == "rgb16") {
      // Colour preserved through CMYK/16-bit: mean absolute error vs the sRGB
      // original stays small (a wrong conversion is off by 50+).
      double err = (img.cast(VIPS_FORMAT_FLOAT) - reference).abs().avg();
      EXPECT_LT(err, 12.0);
    }
    if (std::string(c.name) == "rgba") {
      // Transparent left half flattened to white; opaque right half kept.
      auto left = img.getpoint(10, 10);
      EXPECT_GT(left[0], 245);
      EXPECT_GT(left[1], 245);
      EXPECT_GT(left[2], 245);
      auto right = img.getpoint(150, 10);
      EXPECT_LT(right[2] + right[1], 480);
    }
  }
}

TEST(ResizeTest, WebpAndPngKeepAlpha) {
  for (OutputFormat f : {OutputFormat::kWebp, OutputFormat::kPng, OutputFormat::kAvif}) {
    SCOPED_TRACE(OutputFormatName(f));
    for (const std::string& input : {testing::MakeRgbaPng(320, 240), testing::MakeRgbaWebp(320, 240)}) {
      RenditionSet set = MustMake(input, Specs({160}, f));
      ASSERT_EQ(set.renditions.size(), 1u);
      VImage img = Decode(set.renditions[0].bytes);
      ASSERT_EQ(img.bands(), 4);
      EXPECT_LT(img.getpoint(10, 10)[3], 10);     // transparent stays transparent
      EXPECT_GT(img.getpoint(150, 10)[3], 245);   // opaque stays opaque
      EXPECT_NEAR(img.getpoint(150, 60)[3], 128, 12);  // the half-transparent band
    }
  }
}

TEST(ResizeTest, AnimatedGifUsesTheFirstFrame) {
  RenditionSet set = MustMake(testing::MakeAnimatedGif(64, 48, 3), Specs({32}));
  ASSERT_EQ(set.renditions.size(), 1u);
  EXPECT_EQ(set.renditions[0].width, 32);
  EXPECT_EQ(set.renditions[0].height, 24);  // one frame, not the whole strip
  VImage img = Decode(set.renditions[0].bytes);
  auto p = img.getpoint(16, 12);
  EXPECT_LT(p[0], 20);   // frame 0 is (0, 255, 128)
  EXPECT_GT(p[1], 235);
}

TEST(ResizeTest, HostileAndCorruptInputsGetTypedErrors) {
  auto reason = [](const std::string& bytes) {
    Result<RenditionSet> r = MakeRenditions(bytes, DefaultRenditions(), Limits{});
    return r.has_value() ? std::string("ok") : r.error().reason();
  };
  EXPECT_EQ(reason(testing::EmptyBytes()), "empty_file");
  EXPECT_EQ(reason(testing::TextBytes()), "unsupported_media_type");
  EXPECT_EQ(reason(testing::SvgBytes()), "unsupported_media_type");
  EXPECT_EQ(reason(testing::TruncatedJpeg()), "corrupt_image");
  EXPECT_EQ(reason(testing::PngHeaderOnly()), "too_many_pixels");
  // A JPEG whose entropy data is cut but which still ends in EOI: passes the
  // probe's structure check, the decoder must refuse it.
  std::string jpeg = testing::MakePhoto();
  std::string cut = jpeg.substr(0, jpeg.size() / 2) + std::string("\xff\xd9", 2);
  EXPECT_EQ(reason(cut), "corrupt_image");
  // PNG with its IDAT data zeroed: structure fine, pixels undecodable.
  SynthOptions o;
  o.format = SynthFormat::kPng;
  std::string png = testing::MakePhoto(o);
  size_t idat = png.find("IDAT");
  ASSERT_NE(idat, std::string::npos);
  std::memset(png.data() + idat + 4, 0x55, 64);
  EXPECT_EQ(reason(png), "corrupt_image");
}

TEST(ResizeTest, PolyglotTrailingBytesDoNotReachRenditions) {
  std::string poly = testing::PolyglotJpegHtmlZip();
  RenditionSet set = MustMake(poly, Specs({100}));
  ASSERT_EQ(set.renditions.size(), 1u);
  const std::string& out = set.renditions[0].bytes;
  EXPECT_EQ(out.find(testing::kPolyglotMarker), std::string::npos);
  EXPECT_EQ(out.find("PK\x03\x04"), std::string::npos);
  EXPECT_EQ(out.substr(out.size() - 2), std::string("\xff\xd9", 2));
}

TEST(ResizeTest, InvalidSpecsAreRejected) {
  std::string jpeg = testing::MakePhoto();
  EXPECT_EQ(MakeRenditions(jpeg, {}, Limits{}).error().reason(), "invalid_config");
  std::vector<RenditionSpec> bad = {{"original", 100, OutputFormat::kJpeg, 80, false}};
  EXPECT_EQ(MakeRenditions(jpeg, bad, Limits{}).error().reason(), "invalid_config");
  bad = {{"a", 100, OutputFormat::kJpeg, 0, false}};
  EXPECT_EQ(MakeRenditions(jpeg, bad, Limits{}).error().reason(), "invalid_config");
  bad = {{"a", 100, OutputFormat::kJpeg, 80, false}, {"a", 50, OutputFormat::kJpeg, 80, false}};
  EXPECT_EQ(MakeRenditions(jpeg, bad, Limits{}).error().reason(), "invalid_config");
}

TEST(ResizeTest, DeterministicOutput) {
  std::string jpeg = testing::MakeJpegWithGps(640, 480);
  RenditionSet a = MustMake(jpeg, DefaultRenditions());
  RenditionSet b = MustMake(jpeg, DefaultRenditions());
  ASSERT_EQ(a.renditions.size(), b.renditions.size());
  for (size_t i = 0; i < a.renditions.size(); ++i) {
    EXPECT_EQ(a.renditions[i].bytes, b.renditions[i].bytes);
  }
}

TEST(ResizeTest, TargetsLargerThanTheSourceShareOneEncode) {
  // 900 px source: medium (1280, Q82) and large (2560, Q85) both keep 900 px.
  SynthOptions o;
  o.width = 900;
  o.height = 600;
  const std::vector<RenditionSpec> specs = DefaultRenditions();
  RenditionSet set = MustMake(testing::MakePhoto(o), specs);
  ASSERT_EQ(set.renditions.size(), 3u);
  const EncodedRendition& medium = set.renditions[1];
  const EncodedRendition& large = set.renditions[2];
  EXPECT_EQ(medium.width, 900);
  EXPECT_EQ(large.width, 900);
  EXPECT_EQ(medium.bytes, large.bytes) << "same pixels: encoded once, at the higher quality";
  // A lower-quality larger spec is not reused for a higher-quality smaller one.
  std::vector<RenditionSpec> inverted = specs;
  inverted[1].quality = 95;
  RenditionSet inv = MustMake(testing::MakePhoto(o), inverted);
  EXPECT_NE(inv.renditions[1].bytes, inv.renditions[2].bytes);
}

TEST(ResizeTest, IntermediateEncodeIsAsFaithfulAndPublishedFilesUnchanged) {
  SynthOptions o;
  o.width = 1600;
  o.height = 1200;
  const std::string photo = testing::MakePhoto(o);
  std::vector<RenditionSpec> specs = DefaultRenditions();
  // Lossless twins of medium and large: the exact pixels both encodes start from.
  specs.push_back({"medium_png", 1280, OutputFormat::kPng, 82, false});
  specs.push_back({"large_png", 2560, OutputFormat::kPng, 85, false});
  auto fin = MakeRenditions(photo, specs, Limits{});
  auto fast = MakeRenditions(photo, specs, Limits{}, {.watermark_inputs_are_intermediate = true});
  ASSERT_TRUE(fin.ok() && fast.ok());
  for (size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(specs[i].name);
    const std::string& a = fin->renditions[i].bytes;
    const std::string& b = fast->renditions[i].bytes;
    if (!specs[i].watermark) {
      EXPECT_EQ(a, b) << "a published rendition keeps the full encode";
      continue;
    }
    EXPECT_NE(a, b);
    VImage exact = Decode(fin->renditions[i == 1 ? 3 : 4].bytes);
    VImage da = Decode(a), db = Decode(b);
    ASSERT_EQ(da.width(), exact.width());
    ASSERT_EQ(db.width(), exact.width());
    const double err_final = (da - exact).abs().avg(), err_fast = (db - exact).abs().avg();
    std::printf("%s: mean error final %.3f, intermediate %.3f\n", specs[i].name.c_str(),
                err_final, err_fast);
    EXPECT_LT(err_fast, err_final + 0.25) << "the intermediate is as faithful as the final encode";
    EXPECT_EQ(db.bands(), 3);
    ExpectNoMetadata(b);
  }
}

}  // namespace
}  // namespace photo::image
