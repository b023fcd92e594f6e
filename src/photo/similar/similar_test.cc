#include <vips/vips8>

#include <filesystem>
#include <random>
#include <string>

#include <gtest/gtest.h>

#include "photo/core/ids.h"
#include "photo/detect/checks.h"
#include "photo/detect/image_io.h"
#include "photo/image/vips.h"
#include "photo/similar/hash_index.h"
#include "photo/similar/store_index.h"
#include "photo/store/status_store.h"
#include "photo/watermark/watermark.h"

namespace photo::similar {
namespace {

namespace fs = std::filesystem;
const fs::path kSkimage = "/usr/lib/python3/dist-packages/skimage/data";

TEST(HashIndexTest, MultiIndexAnswersWhatTheScanAnswers) {
  std::mt19937_64 rng(42);
  HashIndex index;
  std::vector<std::uint64_t> stored;
  for (int i = 0; i < 5000; ++i) {
    stored.push_back(rng());
    index.Upsert("id" + std::to_string(i), stored.back());
  }
  // Near copies of stored hashes (a few bits flipped) and random queries.
  for (int q = 0; q < 60; ++q) {
    std::uint64_t h = stored[rng() % stored.size()];
    for (int b = 0; b < q % 12; ++b) h ^= std::uint64_t{1} << (rng() % 64);
    if (q % 5 == 0) h = rng();
    for (int r : {0, 3, 7, 10, 14, 20, 28}) {
      ASSERT_EQ(index.Query(h, r, 1000), index.QueryByScan(h, r, 1000)) << "r=" << r;
    }
  }
}

TEST(HashIndexTest, NearestFirstExcludeUpsertRemove) {
  HashIndex index;
  index.Upsert("a", 0x0);
  index.Upsert("b", 0x3);   // 2 bits from 0
  index.Upsert("c", 0x1);   // 1 bit
  index.Upsert("d", 0xff);  // 8 bits
  EXPECT_EQ(index.size(), 4u);
  EXPECT_EQ(index.Query(0, 5, 10),
            (std::vector<Match>{{"a", 0}, {"c", 1}, {"b", 2}}));
  EXPECT_EQ(index.Query(0, 64, 2, "a"), (std::vector<Match>{{"c", 1}, {"b", 2}}));
  index.Upsert("d", 0x2);  // moved: now 1 bit away
  EXPECT_EQ(index.Query(0, 1, 10), (std::vector<Match>{{"a", 0}, {"c", 1}, {"d", 1}}));
  EXPECT_TRUE(index.Remove("c"));
  EXPECT_FALSE(index.Remove("c"));
  EXPECT_EQ(index.size(), 3u);
  EXPECT_EQ(index.Query(0, 1, 10), (std::vector<Match>{{"a", 0}, {"d", 1}}));
  index.Upsert("e", 0x1);  // reuses c's slot
  EXPECT_EQ(index.Query(0x1, 0, 10), (std::vector<Match>{{"e", 0}}));
}

// The pHash of pixels the way the detect stage computes it.
std::uint64_t Hash(const cv::Mat& bgr) {
  auto h = detect::PerceptualHash(bgr);
  EXPECT_TRUE(h.ok());
  return h.ok() ? *h : 0;
}

cv::Mat Decode(const std::string& bytes) {
  auto m = detect::DecodeBgrBuffer(bytes);
  EXPECT_TRUE(m.ok()) << (m.ok() ? "" : m.error().ToString());
  return m.ok() ? *m : cv::Mat();
}

std::string Jpeg(const vips::VImage& img, int q) {
  void* buf = nullptr;
  size_t len = 0;
  img.write_to_buffer(".jpg", &buf, &len, vips::VImage::option()->set("Q", q));
  std::string out(static_cast<char*>(buf), len);
  g_free(buf);
  return out;
}

// Real photos that Debian's python3-skimage installs: scenes, whose copies
// must be found, then textures (a star field, grass, bricks), which count
// only as unrelated photos: the low frequencies of a random texture change
// with any crop, so a cropped texture is not expected to match.
const char* kPhotos[] = {"astronaut.png", "coffee.png",  "chelsea.png", "rocket.jpg",
                         "camera.png",    "motorcycle_left.png", "retina.jpg",
                         "hubble_deep_field.jpg", "grass.png", "brick.png"};
constexpr size_t kScenes = 7;

TEST(NearDuplicateTest, CopiesAreWithinTheDefaultDistanceAndOtherPhotosAreNot) {
  image::InitVips();
  HashIndex index;
  std::vector<std::uint64_t> originals;
  for (const char* name : kPhotos) {
    auto m = detect::DecodeBgr(kSkimage / name);
    ASSERT_TRUE(m.ok()) << name << " (install python3-skimage: scripts/setup.sh)";
    originals.push_back(Hash(*m));
    index.Upsert(name, originals.back());
  }
  for (size_t i = 0; i < kScenes; ++i) {
    const std::string name = kPhotos[i];
    vips::VImage img = vips::VImage::new_from_file((kSkimage / name).c_str());
    if (img.bands() == 1) img = img.colourspace(VIPS_INTERPRETATION_sRGB);
    const int w = img.width(), h = img.height();
    watermark::Options wm;
    wm.logo = watermark::DefaultLogoPng();
    wm.text = "(c) 2026 Example Agency";
    auto marked = watermark::Apply(img, wm);
    ASSERT_TRUE(marked.ok());
    const std::pair<const char*, std::string> copies[] = {
        {"resized to 200 px", Jpeg(img.thumbnail_image(200), 85)},
        {"recompressed at JPEG Q30", Jpeg(img, 30)},
        {"cropped 2% each side",
         Jpeg(img.extract_area(w / 50, h / 50, w - 2 * (w / 50), h - 2 * (h / 50)), 85)},
        {"watermarked", Jpeg(*marked, 85)},
    };
    for (const auto& [what, bytes] : copies) {
      const std::uint64_t copy = Hash(Decode(bytes));
      const int d = detect::HammingDistance(copy, originals[i]);
      std::printf("%-22s %-24s distance %2d\n", name.c_str(), what, d);
      EXPECT_LE(d, kDefaultDuplicateDistance) << name << " " << what;
      // Searching the index with the copy finds its original first, and no
      // other photo.
      auto found = index.Query(copy, kDefaultDuplicateDistance, 10);
      EXPECT_EQ(found.size(), 1u) << name << " " << what;
      if (!found.empty()) {
        EXPECT_EQ(found[0].id, name);
      }
    }
  }
  int closest = 64;
  for (size_t i = 0; i < originals.size(); ++i) {
    for (size_t j = i + 1; j < originals.size(); ++j) {
      const int d = detect::HammingDistance(originals[i], originals[j]);
      if (d < closest) std::printf("%s vs %s: %d bits\n", kPhotos[i], kPhotos[j], d);
      closest = std::min(closest, d);
    }
  }
  std::printf("closest pair of different photos: %d bits\n", closest);
  EXPECT_GT(closest, kDefaultDuplicateDistance);
}

class StoreIndexTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(::testing::TempDir()) / ("similar_" + NewImageId().substr(0, 12));
    fs::create_directories(dir_);
    auto s = store::OpenStore("sqlite://" + (dir_ / "db.sqlite").string());
    ASSERT_TRUE(s.ok()) << s.error().ToString();
    store_ = std::move(*s);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Add(std::uint64_t phash, bool detected = true) {
    std::string id = NewImageId();
    store::ImageRecord r = store::NewRecord(id, "x.jpg", NowUnixMillis());
    EXPECT_TRUE(store_->Create(r).ok());
    if (detected) {
      auto u = store_->Update(id, [&](store::ImageRecord& rec) {
        image::Detections d;
        d.phash = phash;
        d.checks_ran = {"faces", "phash"};
        rec.detections = d;
        rec.status = "completed";
        return Status::Ok();
      });
      EXPECT_TRUE(u.ok());
    }
    return id;
  }

  fs::path dir_;
  std::unique_ptr<store::StatusStore> store_;
};

TEST_F(StoreIndexTest, RebuiltFromTheStoreThenKeptInStep) {
  const std::string a = Add(0xf0f0), b = Add(0xf0f1), far = Add(~0xf0f0ull);
  Add(0, /*detected=*/false);  // no hash yet: not indexed
  StoreHashIndex index(*store_, {.overlap = std::chrono::milliseconds(5000),
                                 .min_interval = std::chrono::milliseconds(0),
                                 .batch = 2});  // several batches
  auto r = index.Similar(0xf0f0, 10, 10);
  ASSERT_TRUE(r.ok()) << r.error().ToString();
  EXPECT_EQ(*r, (std::vector<Match>{{a, 0}, {b, 1}}));
  EXPECT_EQ(index.index().size(), 3u);

  // A new image is found on the next call; a deleted one is not.
  const std::string c = Add(0xf0f3);
  ASSERT_TRUE(store_->Delete(a).ok());
  r = index.Similar(0xf0f0, 10, 10, b);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(*r, (std::vector<Match>{{c, 2}}));
  (void)far;
}

}  // namespace
}  // namespace photo::similar
