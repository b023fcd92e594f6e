#include "photo/store/record_json.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "photo/store/testing/record_testing.h"

namespace photo::store {
namespace {

using nlohmann::json;
using testing::ExpectSameRecord;
using testing::FullRecord;

constexpr const char* kId = "0123456789abcdef0123456789abcdef";

TEST(RecordJsonTest, FreshRecordApiShape) {
  ImageRecord r = NewRecord(kId, "cat.jpg", 1764285364123);
  r.original_path = "images/01/" + std::string(kId) + "/original";
  r.source_format = "jpeg";
  r.width = 640;
  r.height = 480;
  r.bytes = 1000;
  json j = RecordToApiJson(r);
  EXPECT_EQ(j["id"], kId);
  EXPECT_EQ(j["filename"], "cat.jpg");
  EXPECT_EQ(j["status"], "uploaded");
  EXPECT_TRUE(j["content_status"].is_null());
  EXPECT_EQ(j["created_at"], "2025-11-27T23:16:04.123Z");
  EXPECT_EQ(j["updated_at"], "2025-11-27T23:16:04.123Z");
  EXPECT_TRUE(j["completed_at"].is_null());
  EXPECT_TRUE(j["detections"].is_null());
  EXPECT_TRUE(j["error"].is_null());
  ASSERT_TRUE(j["stages"].is_object());
  ASSERT_EQ(j["stages"].size(), 3u);
  for (const char* stage : kStages) {
    const json& s = j["stages"][stage];
    EXPECT_EQ(s["state"], "pending") << stage;
    EXPECT_EQ(s["attempts"], 0);
    EXPECT_EQ(s["redeliveries"], 0);
    EXPECT_TRUE(s["started_at"].is_null());
    EXPECT_TRUE(s["finished_at"].is_null());
    EXPECT_EQ(s["duration_ms"], 0.0);
    EXPECT_TRUE(s["error"].is_null());
  }
  // Only the original so far; `path` falls back to it.
  ASSERT_EQ(j["renditions"].size(), 1u);
  EXPECT_EQ(j["renditions"]["original"], json({{"url", "/images/" + std::string(kId) + "/original"},
                                               {"width", 640},
                                               {"height", 480},
                                               {"bytes", 1000},
                                               {"format", "jpeg"},
                                               {"watermarked", false}}));
  EXPECT_EQ(j["path"], r.original_path);
}

TEST(RecordJsonTest, FinishedRecordApiShape) {
  ImageRecord r = FullRecord(kId);
  json j = RecordToApiJson(r);
  EXPECT_EQ(j["status"], "completed");
  EXPECT_EQ(j["content_status"], "review");
  EXPECT_EQ(j["updated_at"], "2025-11-27T23:16:05.456Z");
  EXPECT_EQ(j["completed_at"], "2025-11-27T23:16:06.789Z");
  EXPECT_EQ(
      j["error"],
      json({{"stage", "detect"}, {"code", "corrupt_image"}, {"message", "bad huffman table"}}));

  const json& resize = j["stages"]["resize"];
  EXPECT_EQ(resize["state"], "completed");
  EXPECT_EQ(resize["attempts"], 3);
  EXPECT_EQ(resize["redeliveries"], 1);
  EXPECT_EQ(resize["started_at"], "2025-11-27T23:16:04.200Z");
  EXPECT_EQ(resize["finished_at"], "2025-11-27T23:16:04.999Z");
  EXPECT_EQ(resize["error"]["code"], "store_unavailable");
  EXPECT_EQ(resize["error"]["stage"], "resize");

  const json& rend = j["renditions"];
  ASSERT_EQ(rend.size(), 6u);  // original + 5
  EXPECT_EQ(rend["large"]["url"], "/images/" + std::string(kId) + "/large");
  EXPECT_EQ(rend["large"]["width"], 2560);
  EXPECT_EQ(rend["large"]["height"], 1920);
  EXPECT_EQ(rend["large"]["bytes"], 987654);
  EXPECT_EQ(rend["large"]["format"], "jpeg");
  EXPECT_EQ(rend["large"]["watermarked"], true);
  EXPECT_EQ(rend["thumb"]["format"], "webp");
  EXPECT_EQ(rend["medium"]["format"], "avif");
  EXPECT_EQ(rend["original"]["bytes"], 5'123'456'789ull);
  EXPECT_EQ(rend["original"]["format"], "png");
  EXPECT_FALSE(rend["large"].contains("crop"));
  EXPECT_EQ(rend["square"]["crop"], json({{"x", 100},
                                          {"y", 0},
                                          {"width", 600},
                                          {"height", 600},
                                          {"method", "faces"},
                                          {"faces", 2}}));
  // Storage paths stay internal, except the compat `path`.
  EXPECT_FALSE(rend["large"].contains("path"));
  EXPECT_EQ(j["path"], "images/x/large.jpg");

  const json& d = j["detections"];
  EXPECT_EQ(d["faces"]["count"], 2);
  ASSERT_EQ(d["faces"]["boxes"].size(), 2u);
  EXPECT_EQ(d["faces"]["boxes"][0],
            json({{"x", 10}, {"y", 20}, {"width", 30}, {"height", 40}, {"score", 0.875}}));
  EXPECT_EQ(d["faces"]["model"], "blazeface-back-256");
  EXPECT_EQ(d["faces"]["analysed_width"], 800);
  EXPECT_EQ(d["faces"]["analysed_height"], 600);
  EXPECT_EQ(d["phash"], "fedcba9876543210");
  EXPECT_EQ(d["sharpness"], 123.456789012345678);
  EXPECT_EQ(d["blurry"], true);
  EXPECT_EQ(d["dominant_colors"][0], json({{"hex", "#a1b2c3"}, {"share", 0.5}}));
  EXPECT_EQ(d["exif"], json({{"camera", "Canon EOS 5D"},
                             {"captured_at", "2019-03-04T10:11:12"},
                             {"gps_present", true},
                             {"orientation", 6}}));
  EXPECT_EQ(d["labels"][0], json({{"label", "beach"}, {"score", 0.9}}));
  EXPECT_EQ(d["content"]["status"], "review");
  EXPECT_EQ(d["content"]["reasons"], json({"faces", "label:beach"}));
  EXPECT_EQ(d["content"]["checks_ran"].size(), 4u);
  EXPECT_EQ(d["duplicates"], json::array({{{"id", "20261205T101010Z-abc"}, {"distance", 0}},
                                          {{"id", "20261204T101010Z-def"}, {"distance", 7}}}));
  EXPECT_EQ(d["crops"][0]["rendition"], "square");
}

TEST(RecordJsonTest, RecordsStoredBeforeCropsAndDuplicatesStillLoad) {
  ImageRecord r = FullRecord(kId);
  json j = json::parse(RecordToStorageJson(r));
  j["detections"].erase("crops");
  j["detections"].erase("duplicates");
  auto back = RecordFromStorageJson(j.dump());
  ASSERT_TRUE(back.ok()) << back.error().ToString();
  EXPECT_TRUE(back->detections->crops.empty());
  EXPECT_TRUE(back->detections->duplicates.empty());
}

TEST(RecordJsonTest, PhashIsAlwaysSixteenHexDigits) {
  image::Detections d;
  d.phash = 0xab;
  EXPECT_EQ(DetectionsToJson(d)["phash"], "00000000000000ab");
}

TEST(RecordJsonTest, EmptyExifFieldsAreNull) {
  json j = DetectionsToJson(image::Detections{});
  EXPECT_TRUE(j["exif"]["camera"].is_null());
  EXPECT_TRUE(j["exif"]["captured_at"].is_null());
  EXPECT_EQ(j["exif"]["orientation"], 1);
}

TEST(RecordJsonTest, MainRenditionPathPrefersLargeThenLargestWatermarked) {
  ImageRecord r = NewRecord(kId, "a.jpg", 0);
  r.original_path = "orig";
  EXPECT_EQ(MainRenditionPath(r), "orig");
  r.renditions.push_back({"thumb", "t.jpg", 320, 240, 1, image::OutputFormat::kJpeg, false});
  EXPECT_EQ(MainRenditionPath(r), "t.jpg");
  r.renditions.push_back({"huge", "h.jpg", 4000, 3000, 1, image::OutputFormat::kJpeg, false});
  r.renditions.push_back({"medium", "m.jpg", 1280, 960, 1, image::OutputFormat::kJpeg, true});
  EXPECT_EQ(MainRenditionPath(r), "m.jpg");
  r.renditions.push_back({"large", "l.jpg", 2560, 1920, 1, image::OutputFormat::kJpeg, true});
  EXPECT_EQ(MainRenditionPath(r), "l.jpg");
  EXPECT_EQ(RecordToApiJson(r)["path"], "l.jpg");
}

TEST(RecordJsonTest, StorageRoundTripsEveryField) {
  ImageRecord r = FullRecord(kId);
  auto back = RecordFromStorageJson(RecordToStorageJson(r));
  ASSERT_TRUE(back) << back.error().ToString();
  ExpectSameRecord(*back, r);
}

TEST(RecordJsonTest, StorageRoundTripsFreshRecordAndAbsentOptionals) {
  ImageRecord r = NewRecord(kId, "a.jpg", 42);
  auto back = RecordFromStorageJson(RecordToStorageJson(r));
  ASSERT_TRUE(back);
  ExpectSameRecord(*back, r);
  EXPECT_FALSE(back->content_status);
  EXPECT_FALSE(back->detections);
  EXPECT_FALSE(back->stages[0].started_at_ms);
}

TEST(RecordJsonTest, StorageRoundTripsNonFiniteAndExtremeValues) {
  ImageRecord r = FullRecord(kId);
  r.stages[0].duration_ms = std::numeric_limits<double>::quiet_NaN();
  r.stages[1].duration_ms = std::numeric_limits<double>::infinity();
  r.stages[2].cpu_ms = -std::numeric_limits<double>::infinity();
  r.detections->sharpness = std::numeric_limits<double>::denorm_min();
  r.detections->phash = ~0ull;
  r.created_at_ms = std::numeric_limits<std::int64_t>::min();
  r.bytes = ~0ull;
  auto back = RecordFromStorageJson(RecordToStorageJson(r));
  ASSERT_TRUE(back) << back.error().ToString();
  ExpectSameRecord(*back, r);
  EXPECT_TRUE(std::isnan(back->stages[0].duration_ms));
}

TEST(RecordJsonTest, InvalidUtf8IsReplacedNotFatal) {
  ImageRecord r = NewRecord(kId, "a.jpg", 1);
  r.error = ErrorInfo{"resize", "corrupt_image", std::string("bad \xff\xfe bytes")};
  std::string text = RecordToStorageJson(r);
  auto back = RecordFromStorageJson(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(back->error->message.substr(0, 4), "bad ");
  EXPECT_NE(back->error->message, r.error->message);
}

TEST(RecordJsonTest, CorruptStorageTextIsRejected) {
  for (const char* text : {"", "not json", "[]", "{}", "{\"v\":2}", "{\"v\":1,\"id\":\"x\"}"}) {
    auto r = RecordFromStorageJson(text);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().code(), StatusCode::kInternal);
    EXPECT_EQ(r.error().reason(), "corrupt_record");
  }
  // A valid record with one field of the wrong type.
  json j = json::parse(RecordToStorageJson(FullRecord(kId)));
  j["stages"][1]["attempts"] = "three";
  EXPECT_FALSE(RecordFromStorageJson(j.dump()));
  j = json::parse(RecordToStorageJson(FullRecord(kId)));
  j["renditions"][0]["format"] = "bmp";
  EXPECT_FALSE(RecordFromStorageJson(j.dump()));
}

TEST(ImageRecordTest, StageFindsOrInsertsInPipelineOrder) {
  ImageRecord r;
  r.Stage("detect").attempts = 1;
  r.Stage("resize").attempts = 2;
  r.Stage("watermark");
  ASSERT_EQ(r.stages.size(), 3u);
  EXPECT_EQ(r.stages[0].stage, "resize");
  EXPECT_EQ(r.stages[1].stage, "watermark");
  EXPECT_EQ(r.stages[2].stage, "detect");
  EXPECT_EQ(r.FindStage("detect")->attempts, 1);
  EXPECT_EQ(r.Stage("resize").attempts, 2);
  EXPECT_EQ(r.stages.size(), 3u);
  EXPECT_EQ(r.FindStage("nope"), nullptr);
  EXPECT_EQ(r.FindRendition("large"), nullptr);
}

TEST(ImageRecordTest, NewRecordHasEveryStagePending) {
  ImageRecord r = NewRecord(kId, "a.jpg", 7);
  EXPECT_EQ(r.status, "uploaded");
  EXPECT_EQ(r.created_at_ms, 7);
  EXPECT_EQ(r.updated_at_ms, 7);
  ASSERT_EQ(r.stages.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(r.stages[i].stage, kStages[i]);
    EXPECT_EQ(r.stages[i].state, "pending");
  }
}

}  // namespace
}  // namespace photo::store
