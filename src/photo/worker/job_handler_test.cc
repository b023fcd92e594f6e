#include "photo/worker/job_handler.h"

#include <gtest/gtest.h>
#include <vips/vips8>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "photo/core/files.h"
#include "photo/core/ids.h"
#include "photo/image/testing/synth.h"
#include "photo/image/vips.h"
#include "photo/storage/local_blob_store.h"
#include "photo/storage/testing/forwarding_blob_store.h"
#include "photo/store/memory_store.h"

namespace photo::worker {
namespace {
namespace fs = std::filesystem;
using Kind = Outcome::Kind;

// The data dir's files through a LocalBlobStore, which a test can take
// down (every request fails): the worker erases a deleted image's files
// through JobContext::blobs and nothing else.
class SwitchableStore : public storage::testing::ForwardingBlobStore {
 public:
  explicit SwitchableStore(const fs::path& root) : ForwardingBlobStore(local_), local_(root) {}
  bool down = false;

  Status Put(const std::string& k, std::string_view b) override {
    return down ? Down() : ForwardingBlobStore::Put(k, b);
  }
  Status PutFile(const std::string& k, const fs::path& f) override {
    return down ? Down() : ForwardingBlobStore::PutFile(k, f);
  }
  Status Get(const std::string& k, const storage::Sink& sink,
             std::optional<storage::ByteRange> range) override {
    return down ? Down() : ForwardingBlobStore::Get(k, sink, range);
  }
  Result<storage::BlobInfo> Head(const std::string& k) override {
    if (down) return Down();
    return ForwardingBlobStore::Head(k);
  }
  Status Delete(const std::string& k) override {
    return down ? Down() : ForwardingBlobStore::Delete(k);
  }
  Result<std::vector<storage::ListEntry>> List(const std::string& prefix) override {
    if (down) return Down();
    return ForwardingBlobStore::List(prefix);
  }
  Status Check() override { return down ? Down() : ForwardingBlobStore::Check(); }

 private:
  static Status Down() { return UnavailableError("storage_unavailable", "taken down by the test"); }
  storage::LocalBlobStore local_;
};

class JobHandlerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    image::InitVips();
    dir_ = fs::temp_directory_path() /
           ("photo_worker_test_" + NewImageId().substr(0, 12));
    layout_ = std::make_unique<pipeline::Layout>(dir_);
    ASSERT_TRUE(config_.Validate().ok());
    blobs_ = std::make_unique<SwitchableStore>(dir_);
    ctx_ = JobContext{&store_, layout_.get(), &config_, {}};
    ctx_.blobs = blobs_.get();
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string AddImage(const std::string& bytes) {
    std::string id = NewImageId();
    EXPECT_TRUE(WriteFileAtomic(layout_->Original(id), std::string_view(bytes)).ok());
    store::ImageRecord rec = store::NewRecord(id, "photo.jpg", NowUnixMillis());
    rec.original_path = fs::relative(layout_->Original(id), dir_).string();
    EXPECT_TRUE(store_.Create(rec).ok());
    return id;
  }

  Delivery Job(const std::string& id, const std::string& stage, int attempt = 1,
               bool last = false) {
    Delivery d;
    d.stage = stage;
    d.body = broker::MakeJobMessage({id, "photo.jpg", "x", stage}).body;
    d.attempt = attempt;
    d.last_attempt = last;
    return d;
  }

  fs::path dir_;
  std::unique_ptr<pipeline::Layout> layout_;
  std::unique_ptr<SwitchableStore> blobs_;
  PipelineConfig config_;
  store::MemoryStatusStore store_;
  JobContext ctx_;
};

TEST_F(JobHandlerTest, ThreeStagesCompleteAndEmitOneEvent) {
  std::string id = AddImage(image::testing::MakePhoto({.width = 1600, .height = 1200}));

  Outcome r = HandleJob(ctx_, Job(id, "resize"));
  ASSERT_EQ(r.kind, Kind::kAck) << r.error.ToString();
  ASSERT_EQ(r.publish.size(), 1u);
  EXPECT_EQ(r.publish[0].routing_key, "watermark");
  EXPECT_EQ(r.publish[0].message_id, id + ":watermark");
  EXPECT_EQ(store_.Get(id)->status, "processing");

  Outcome w = HandleJob(ctx_, Job(id, "watermark"));
  ASSERT_EQ(w.kind, Kind::kAck) << w.error.ToString();
  EXPECT_EQ(w.publish.at(0).routing_key, "detect");

  Outcome d = HandleJob(ctx_, Job(id, "detect"));
  ASSERT_EQ(d.kind, Kind::kAck) << d.error.ToString();
  ASSERT_EQ(d.publish.size(), 1u);
  EXPECT_EQ(d.publish[0].exchange, "processed_images");
  EXPECT_EQ(d.publish[0].message_id, id + ":completed");
  auto ev = nlohmann::json::parse(d.publish[0].body);
  EXPECT_EQ(ev["event_id"], id + ":completed");
  EXPECT_EQ(ev["status"], "completed");
  EXPECT_TRUE(ev.contains("renditions"));
  EXPECT_TRUE(ev.contains("detections"));

  auto rec = store_.Get(id);
  ASSERT_TRUE(rec.has_value());
  EXPECT_EQ(rec->status, "completed");
  ASSERT_TRUE(rec->content_status.has_value());
  EXPECT_TRUE(rec->detections.has_value());
  for (const char* stage : store::kStages) {
    const auto* st = rec->FindStage(stage);
    ASSERT_NE(st, nullptr);
    EXPECT_EQ(st->state, "completed");
    EXPECT_EQ(st->attempts, 1);
  }
  for (const auto& r2 : rec->renditions) {
    EXPECT_FALSE(fs::path(r2.path).is_absolute()) << r2.path;
    EXPECT_TRUE(fs::exists(dir_ / r2.path)) << r2.path;
    EXPECT_EQ(r2.watermarked, r2.name != "thumb") << r2.name;
  }
}

TEST_F(JobHandlerTest, CropRenditionIsMadeByDetectAndRecordedWithItsBox) {
  auto specs = pipeline::ParseRenditions("thumb:320:jpeg:80,medium:1280:jpeg:82:wm,"
                                         "square:240x240:jpeg:80:crop");
  ASSERT_TRUE(specs.ok()) << specs.error().ToString();
  config_.resize.renditions = *specs;
  std::string id = AddImage(image::testing::MakePhoto({.width = 1600, .height = 1200}));
  for (const char* stage : {"resize", "watermark"}) {
    ASSERT_EQ(HandleJob(ctx_, Job(id, stage)).kind, Kind::kAck) << stage;
    EXPECT_EQ(store_.Get(id)->FindRendition("square"), nullptr) << "made before detect";
  }
  ASSERT_EQ(HandleJob(ctx_, Job(id, "detect")).kind, Kind::kAck);
  auto rec = store_.Get(id);
  ASSERT_TRUE(rec.has_value());
  const image::Rendition* sq = rec->FindRendition("square");
  ASSERT_NE(sq, nullptr);
  EXPECT_EQ(sq->width, 240);
  EXPECT_EQ(sq->height, 240);
  EXPECT_FALSE(fs::path(sq->path).is_absolute());
  EXPECT_TRUE(fs::exists(dir_ / sq->path));
  ASSERT_NE(rec->FindRendition("medium"), nullptr);  // the others stay
  ASSERT_EQ(rec->detections->crops.size(), 1u);
  EXPECT_EQ(rec->detections->crops[0].rendition, "square");
  EXPECT_EQ(rec->detections->crops[0].height, 960);  // the largest square of the 1280x960 medium
}

TEST_F(JobHandlerTest, ANearDuplicateUploadListsTheEarlierImage) {
  similar::StoreHashIndex hashes(store_);
  ctx_.similar = &hashes;
  auto process = [&](const std::string& bytes) {
    std::string id = AddImage(bytes);
    for (const char* stage : {"resize", "watermark", "detect"}) {
      EXPECT_EQ(HandleJob(ctx_, Job(id, stage)).kind, Kind::kAck) << stage;
    }
    return id;
  };
  const std::string data = "/usr/lib/python3/dist-packages/skimage/data/";
  auto astronaut = ReadFile(data + "astronaut.png");
  auto coffee = ReadFile(data + "coffee.png");
  ASSERT_TRUE(astronaut.ok() && coffee.ok()) << "install python3-skimage (scripts/setup.sh)";
  const std::string first = process(*astronaut);
  const std::string other = process(*coffee);
  // The same photo, smaller and recompressed, uploaded later.
  void* buf = nullptr;
  size_t len = 0;
  vips::VImage::new_from_buffer(*astronaut, "")
      .thumbnail_image(300)
      .write_to_buffer(".jpg", &buf, &len, vips::VImage::option()->set("Q", 60));
  const std::string copy_bytes(static_cast<char*>(buf), len);
  g_free(buf);
  const std::string copy = process(copy_bytes);

  auto rec = store_.Get(copy);
  ASSERT_TRUE(rec.ok());
  ASSERT_EQ(rec->detections->duplicates.size(), 1u);
  EXPECT_EQ(rec->detections->duplicates[0].id, first);
  EXPECT_LE(rec->detections->duplicates[0].distance, config_.duplicate_distance);
  EXPECT_TRUE(store_.Get(other)->detections->duplicates.empty());
  EXPECT_TRUE(store_.Get(first)->detections->duplicates.empty());  // nothing earlier
}

TEST_F(JobHandlerTest, RedeliveryOfCompletedStageDoesNoWorkAndReemitsSameMessage) {
  std::string id = AddImage(image::testing::MakePhoto({.width = 800, .height = 600}));
  Outcome first = HandleJob(ctx_, Job(id, "resize"));
  ASSERT_EQ(first.kind, Kind::kAck);
  Delivery again = Job(id, "resize");
  again.redelivered = true;
  Outcome second = HandleJob(ctx_, again);
  ASSERT_EQ(second.kind, Kind::kAck);
  ASSERT_EQ(second.publish.size(), 1u);
  EXPECT_EQ(second.publish[0].message_id, first.publish[0].message_id);
  auto rec = store_.Get(id);  // keep the record alive while `st` points into it
  ASSERT_TRUE(rec.has_value());
  const auto* st = rec->FindStage("resize");
  EXPECT_EQ(st->attempts, 1);
  EXPECT_EQ(st->redeliveries, 1);
}

TEST_F(JobHandlerTest, CorruptImageParksAtOnceAndFailsTheImage) {
  std::string id = AddImage(image::testing::TruncatedJpeg(0.3));
  Outcome r = HandleJob(ctx_, Job(id, "resize"));
  ASSERT_EQ(r.kind, Kind::kPark);
  EXPECT_FALSE(r.error.IsTransient());
  auto rec = store_.Get(id);
  EXPECT_EQ(rec->status, "failed");
  ASSERT_TRUE(rec->error.has_value());
  EXPECT_EQ(rec->error->stage, "resize");
  EXPECT_FALSE(rec->error->code.empty());
  ASSERT_EQ(r.publish.size(), 1u);
  EXPECT_EQ(r.publish[0].message_id, id + ":failed");
  // A stray later job for a failed image does nothing.
  Outcome later = HandleJob(ctx_, Job(id, "watermark"));
  EXPECT_EQ(later.kind, Kind::kAck);
  EXPECT_TRUE(later.publish.empty());
}

TEST_F(JobHandlerTest, TransientFaultRetriesThenParksOnLastAttempt) {
  ctx_.fault = FaultInjection{"resize", 5};
  std::string id = AddImage(image::testing::MakePhoto({.width = 400, .height = 300}));
  Outcome r1 = HandleJob(ctx_, Job(id, "resize", 1));
  ASSERT_EQ(r1.kind, Kind::kRetry);
  EXPECT_TRUE(r1.publish.empty());
  EXPECT_EQ(store_.Get(id)->FindStage("resize")->state, "retrying");
  Outcome r2 = HandleJob(ctx_, Job(id, "resize", 2, /*last=*/true));
  ASSERT_EQ(r2.kind, Kind::kPark);
  EXPECT_EQ(store_.Get(id)->status, "failed");
  EXPECT_EQ(store_.Get(id)->FindStage("resize")->attempts, 2);
}

TEST_F(JobHandlerTest, TransientFaultThenSuccess) {
  ctx_.fault = FaultInjection{"resize", 1};
  std::string id = AddImage(image::testing::MakePhoto({.width = 400, .height = 300}));
  EXPECT_EQ(HandleJob(ctx_, Job(id, "resize", 1)).kind, Kind::kRetry);
  Outcome r = HandleJob(ctx_, Job(id, "resize", 2));
  ASSERT_EQ(r.kind, Kind::kAck) << r.error.ToString();
  EXPECT_EQ(store_.Get(id)->FindStage("resize")->state, "completed");
  EXPECT_EQ(store_.Get(id)->FindStage("resize")->attempts, 2);
}

TEST_F(JobHandlerTest, AnOperatorReplayOfTheFailingJobOpensTheImageAgain) {
  ctx_.fault = FaultInjection{"watermark", 1};
  std::string id = AddImage(image::testing::MakePhoto({.width = 400, .height = 300}));
  ASSERT_EQ(HandleJob(ctx_, Job(id, "resize")).kind, Kind::kAck);
  ASSERT_EQ(HandleJob(ctx_, Job(id, "watermark", 1, /*last=*/true)).kind, Kind::kPark);
  ASSERT_EQ(store_.Get(id)->status, "failed");
  ctx_.fault = {};  // the operator fixed the cause
  // A stray copy of another stage, or a plain redelivery, still does nothing.
  Delivery stray = Job(id, "detect");
  stray.operator_replay = true;
  EXPECT_TRUE(HandleJob(ctx_, stray).publish.empty());
  EXPECT_TRUE(HandleJob(ctx_, Job(id, "watermark")).publish.empty());
  EXPECT_EQ(store_.Get(id)->status, "failed");

  Delivery replay = Job(id, "watermark");
  replay.operator_replay = true;
  Outcome w = HandleJob(ctx_, replay);
  ASSERT_EQ(w.kind, Kind::kAck) << w.error.ToString();
  auto rec = store_.Get(id);
  EXPECT_EQ(rec->status, "processing");
  EXPECT_FALSE(rec->error.has_value());
  EXPECT_EQ(rec->FindStage("watermark")->attempts, 2);
  Outcome d = HandleJob(ctx_, Job(id, "detect"));
  ASSERT_EQ(d.kind, Kind::kAck) << d.error.ToString();
  EXPECT_EQ(d.publish.at(0).message_id, id + ":completed");
}

TEST_F(JobHandlerTest, CrashLoopIsParkedAfterMaxRedeliveries) {
  ctx_.max_redeliveries = 2;
  std::string id = AddImage(image::testing::MakePhoto({.width = 400, .height = 300}));
  // Simulate workers that died mid-job: the stage starts, then redeliveries.
  ASSERT_TRUE(store_.Update(id, [](store::ImageRecord& r) {
                      r.Stage("resize").state = "processing";
                      return Status::Ok();
                    }).has_value());
  Delivery d = Job(id, "resize");
  d.redelivered = true;
  store_.Update(id, [](store::ImageRecord& r) {
    r.Stage("resize").redeliveries = 2;
    return Status::Ok();
  }).value();
  Outcome o = HandleJob(ctx_, d);
  ASSERT_EQ(o.kind, Kind::kPark);
  EXPECT_EQ(o.error.reason(), "crash_loop");
  EXPECT_EQ(store_.Get(id)->status, "failed");
  EXPECT_EQ(store_.Get(id)->error->code, "crash_loop");
  ASSERT_EQ(o.publish.size(), 1u);
  EXPECT_EQ(o.publish[0].message_id, id + ":failed");
}

TEST_F(JobHandlerTest, EventsCarrySignedRenditionUrls) {
  const signing::UrlSigner signer("event-key", "", 600);
  ctx_.signer = &signer;
  std::string id = AddImage(image::testing::MakePhoto({.width = 800, .height = 600}));
  ASSERT_EQ(HandleJob(ctx_, Job(id, "resize")).kind, Kind::kAck);
  ASSERT_EQ(HandleJob(ctx_, Job(id, "watermark")).kind, Kind::kAck);
  Outcome d = HandleJob(ctx_, Job(id, "detect"));
  ASSERT_EQ(d.kind, Kind::kAck) << d.error.ToString();
  auto ev = nlohmann::json::parse(d.publish.at(0).body);
  ASSERT_FALSE(ev["renditions"].empty());
  const std::int64_t now = NowUnixMillis() / 1000;
  for (auto& [name, r] : ev["renditions"].items()) {
    const std::string url = r["url"];
    const std::string path = "/images/" + id + "/" + name;
    ASSERT_EQ(url.rfind(path + "?exp=", 0), 0u) << url;
    EXPECT_EQ(signer.Verify(path, url.substr(url.find('?') + 1), now), signing::UrlSigner::Check::kValid) << url;
  }
}

TEST_F(JobHandlerTest, AJobForADeletedImageErasesItsFilesAndPublishesNothing) {
  std::string id = AddImage(image::testing::MakePhoto({.width = 800, .height = 600}));
  ASSERT_TRUE(store_.Delete(id).ok());  // DELETE /images/{id} while the job was queued
  ASSERT_TRUE(fs::exists(layout_->Original(id)));  // ...and its files not erased yet
  Outcome r = HandleJob(ctx_, Job(id, "resize"));
  EXPECT_EQ(r.kind, Kind::kAck) << r.error.ToString();
  EXPECT_TRUE(r.image_deleted);
  EXPECT_TRUE(r.publish.empty());
  EXPECT_FALSE(fs::exists(layout_->ImageDir(id)));
}

TEST_F(JobHandlerTest, ADeletedImageIsErasedThroughTheContextsStoreAndRetriedWhileItIsDown) {
  std::string id = AddImage(image::testing::MakePhoto({.width = 800, .height = 600}));
  ASSERT_TRUE(store_.Delete(id).ok());
  blobs_->down = true;
  Outcome r = HandleJob(ctx_, Job(id, "resize"));
  EXPECT_EQ(r.kind, Kind::kRetry);
  EXPECT_EQ(r.error.reason(), "storage_unavailable") << r.error.ToString();
  EXPECT_FALSE(r.image_deleted);
  EXPECT_TRUE(fs::exists(layout_->Original(id)));  // nothing erased behind the store's back
  blobs_->down = false;
  r = HandleJob(ctx_, Job(id, "resize"));
  EXPECT_EQ(r.kind, Kind::kAck) << r.error.ToString();
  EXPECT_TRUE(r.image_deleted);
  EXPECT_FALSE(fs::exists(layout_->ImageDir(id)));
}

TEST_F(JobHandlerTest, AnImageDeletedWhileItsStageRunsEndsWithoutFiles) {
  for (const char* stage : {"resize", "watermark", "detect"}) {
    std::string id = AddImage(image::testing::MakePhoto({.width = 800, .height = 600}));
    for (const char* before : {"resize", "watermark"}) {
      if (std::string(before) == stage) break;
      ASSERT_EQ(HandleJob(ctx_, Job(id, before)).kind, Kind::kAck);
    }
    // The outputs are written, then the image is deleted (the record; the
    // API erased its files before this job wrote its own), then the job
    // records them: what it wrote must go.
    ctx_.fault.after_outputs = [&](const std::string& s, const std::string& which) {
      ASSERT_EQ(s, stage);
      ASSERT_TRUE(fs::exists(layout_->ImageDir(which)));
      ASSERT_TRUE(store_.Delete(which).ok());
    };
    Outcome r = HandleJob(ctx_, Job(id, stage));
    ctx_.fault.after_outputs = nullptr;
    EXPECT_EQ(r.kind, Kind::kAck) << stage << ": " << r.error.ToString();
    EXPECT_TRUE(r.image_deleted) << stage;
    EXPECT_TRUE(r.publish.empty()) << stage;
    EXPECT_FALSE(fs::exists(layout_->ImageDir(id))) << stage;
    EXPECT_EQ(store_.Get(id).error().code(), StatusCode::kNotFound);
  }
}

TEST_F(JobHandlerTest, BadBodyParks) {
  Delivery bad;
  bad.stage = "resize";
  bad.body = "not json";
  EXPECT_EQ(HandleJob(ctx_, bad).kind, Kind::kPark);
  Delivery traversal = Job("../../etc", "resize");
  EXPECT_EQ(HandleJob(ctx_, traversal).kind, Kind::kPark);
}

}  // namespace
}  // namespace photo::worker
