// HandleJob with remote blob storage (worker/staging.h), parameterised by
// the store: a LocalBlobStore in another folder stands in for a remote one
// in the unit tests; the s3-labelled test runs the same suite against the
// Ceph gateway.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>
#include <memory>

#include "photo/core/files.h"
#include "photo/core/ids.h"
#include "photo/image/testing/synth.h"
#include "photo/image/vips.h"
#include "photo/storage/blob_store.h"
#include "photo/storage/testing/forwarding_blob_store.h"
#include "photo/store/memory_store.h"
#include "photo/worker/job_handler.h"
#include "photo/worker/staging.h"

namespace photo::worker::testing {

struct RemoteFactory {
  std::string name;
  std::function<std::unique_ptr<storage::BlobStore>()> make;
  friend void PrintTo(const RemoteFactory& f, std::ostream* os) { *os << f.name; }
};

// Passes every call to the store under test and notes the reads: how many
// requests a stage makes is what an S3 server pays for.
class ReadLog : public storage::testing::ForwardingBlobStore {
 public:
  using ForwardingBlobStore::ForwardingBlobStore;
  // "GET <key>", "GET <key> <first>-<last>", "LIST <prefix>", "HEAD <key>".
  std::vector<std::string> reads;

  Status Get(const std::string& k, const storage::Sink& sink,
             std::optional<storage::ByteRange> range) override {
    std::string r = "GET " + k;
    if (range) r += " " + std::to_string(range->first) + "-" + (range->last ? std::to_string(*range->last) : "");
    reads.push_back(r);
    return ForwardingBlobStore::Get(k, sink, range);
  }
  Result<storage::BlobInfo> Head(const std::string& k) override {
    reads.push_back("HEAD " + k);
    return ForwardingBlobStore::Head(k);
  }
  Result<std::vector<storage::ListEntry>> List(const std::string& prefix) override {
    reads.push_back("LIST " + prefix);
    return ForwardingBlobStore::List(prefix);
  }
  std::optional<std::filesystem::path> LocalPath(const std::string&) const override {
    return std::nullopt;  // remote, whatever the store under test is
  }
  std::string Describe() const override { return "read log of " + inner().Describe(); }
};

class RemoteStagingTest : public ::testing::TestWithParam<RemoteFactory> {
 protected:
  void SetUp() override {
    image::InitVips();
    dir_ = std::filesystem::temp_directory_path() / ("photo_staging_test_" + NewImageId().substr(0, 12));
    blobs_ = GetParam().make();
    layout_ = std::make_unique<pipeline::Layout>(dir_ / "data");
    auto scratch = ScratchRoot::Open(dir_ / "data" / "work");
    ASSERT_TRUE(scratch.ok()) << scratch.error().ToString();
    scratch_ = std::move(*scratch);
    ctx_ = JobContext{&store_, layout_.get(), &config_, {}};
    ctx_.remote_blobs = blobs_.get();
    ctx_.blobs = blobs_.get();
    ctx_.scratch_dir = scratch_->dir();
  }
  void TearDown() override {
    scratch_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::string AddImage(const std::string& bytes) {
    std::string id = NewImageId();
    const pipeline::Layout keys("");
    const std::string key = keys.Original(id).generic_string();
    EXPECT_TRUE(blobs_->Put(key, bytes).ok());
    store::ImageRecord rec = store::NewRecord(id, "photo.jpg", NowUnixMillis());
    rec.original_path = key;
    EXPECT_TRUE(store_.Create(rec).ok());
    return id;
  }

  Delivery Job(const std::string& id, const std::string& stage) {
    Delivery d;
    d.stage = stage;
    d.body = broker::MakeJobMessage({id, "photo.jpg", "x", stage}).body;
    return d;
  }

  // Runs resize and watermark, then detect with its reads noted (sorted).
  std::vector<std::string> DetectReads(const std::string& id) {
    for (const char* stage : {"resize", "watermark"})
      EXPECT_EQ(HandleJob(ctx_, Job(id, stage)).kind, Outcome::Kind::kAck) << stage;
    ReadLog log(*blobs_);
    ctx_.remote_blobs = ctx_.blobs = &log;
    Outcome o = HandleJob(ctx_, Job(id, "detect"));
    ctx_.remote_blobs = ctx_.blobs = blobs_.get();
    EXPECT_EQ(o.kind, Outcome::Kind::kAck) << o.error.ToString();
    std::sort(log.reads.begin(), log.reads.end());
    return log.reads;
  }

  // Regular files under the scratch folder, apart from its lock.
  int ScratchFiles() const {
    int n = 0;
    for (const auto& e : std::filesystem::recursive_directory_iterator(scratch_->dir()))
      if (e.is_regular_file() && e.path().filename() != ".lock") ++n;
    return n;
  }

  std::filesystem::path dir_;
  std::unique_ptr<storage::BlobStore> blobs_;
  std::unique_ptr<pipeline::Layout> layout_;
  std::unique_ptr<ScratchRoot> scratch_;
  PipelineConfig config_;
  store::MemoryStatusStore store_;
  JobContext ctx_;
};

TEST_P(RemoteStagingTest, StagesReadAndWriteThroughTheStoreOnly) {
  const std::string id = AddImage(image::testing::MakePhoto({.width = 1600, .height = 1200}));
  for (const char* stage : {"resize", "watermark", "detect"}) {
    Outcome o = HandleJob(ctx_, Job(id, stage));
    ASSERT_EQ(o.kind, Outcome::Kind::kAck) << stage << ": " << o.error.ToString();
    EXPECT_EQ(ScratchFiles(), 0) << "scratch copies left after " << stage;
  }
  auto rec = store_.Get(id);
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->status, "completed");
  EXPECT_TRUE(rec->detections.has_value());
  ASSERT_FALSE(rec->renditions.empty());
  for (const auto& r : rec->renditions) {
    EXPECT_FALSE(std::filesystem::path(r.path).is_absolute()) << r.path;
    auto head = blobs_->Head(r.path);
    ASSERT_TRUE(head.ok()) << r.path << ": " << head.error().ToString();
    EXPECT_EQ(head->size, r.bytes) << r.path;
  }
  // Nothing of the image ever landed in the worker's own data dir.
  EXPECT_FALSE(std::filesystem::exists(layout_->ImageDir(id)));
}

TEST_P(RemoteStagingTest, StagesFetchOnlyWhatTheyRead) {
  // A camera photo well over the header prefix, with EXIF that detect reports.
  const std::string photo = image::testing::MakePhoto(
      {.width = 2400, .height = 1800, .quality = 95, .gps = true, .camera = true});
  ASSERT_GT(photo.size(), 600'000u);
  const std::string id = AddImage(photo);
  ReadLog log(*blobs_);
  ctx_.remote_blobs = &log;
  ctx_.blobs = &log;
  const std::string dir = pipeline::ImageFolderKey(id);
  const std::map<std::string, std::vector<std::string>> expected = {
      {"resize", {"GET " + dir + "original"}},
      // Only the clean twins it marks; no listing.
      {"watermark", {"GET " + dir + "clean/large.jpg", "GET " + dir + "clean/medium.jpg"}},
      // The one rendition it analyses (nearest 1280 px) and the original's
      // header: not the original's pixels, the other renditions or a listing.
      {"detect", {"GET " + dir + "clean/medium.jpg", "GET " + dir + "original 0-262143"}},
  };
  for (const char* stage : {"resize", "watermark", "detect"}) {
    log.reads.clear();
    Outcome o = HandleJob(ctx_, Job(id, stage));
    ASSERT_EQ(o.kind, Outcome::Kind::kAck) << stage << ": " << o.error.ToString();
    std::vector<std::string> reads = log.reads;
    std::sort(reads.begin(), reads.end());
    EXPECT_EQ(reads, expected.at(stage)) << stage;
  }
  // The EXIF read from the header alone is the whole file's.
  auto rec = store_.Get(id);
  ASSERT_TRUE(rec.ok());
  ASSERT_TRUE(rec->detections.has_value());
  EXPECT_TRUE(rec->detections->exif.gps_present);
  EXPECT_EQ(rec->detections->exif.camera, "PhotoTest Synth 1");
  EXPECT_EQ(rec->detections->exif.captured_at, "2021:06:05 04:03:02");
  EXPECT_EQ(rec->detections->analysed_width, 1280);
  // The original in the store is still whole.
  EXPECT_EQ(blobs_->Head(pipeline::Layout("").Original(id).generic_string())->size, photo.size());
}

TEST_P(RemoteStagingTest, DetectFetchesAnOriginalWithoutAJpegHeaderInThePrefixWhole) {
  // A PNG keeps no header a prefix could hold: the prefix is checked, then
  // the whole original fetched.
  const std::string png = image::testing::MakePhoto(
      {.width = 1600, .height = 1200, .format = image::testing::SynthFormat::kPng});
  ASSERT_GT(png.size(), 262'144u);
  const std::string id = AddImage(png);
  const std::string dir = pipeline::ImageFolderKey(id);
  EXPECT_EQ(DetectReads(id),
            (std::vector<std::string>{"GET " + dir + "clean/medium.jpg", "GET " + dir + "original",
                                      "GET " + dir + "original 0-262143"}));
  EXPECT_EQ(ScratchFiles(), 0);
}

TEST_P(RemoteStagingTest, DetectReadsTheExifOfAnOriginalShorterThanThePrefix) {
  const std::string id = AddImage(image::testing::MakePhoto(
      {.width = 640, .height = 480, .noise_sigma = 0, .gps = true, .camera = true}));
  ASSERT_LT(blobs_->Head(pipeline::Layout("").Original(id).generic_string())->size, 262'144u);
  const std::vector<std::string> reads = DetectReads(id);
  // One ranged GET of the original, which returned all of it.
  const std::string original = "GET " + pipeline::Layout("").Original(id).generic_string();
  EXPECT_EQ(std::count(reads.begin(), reads.end(), original + " 0-262143"), 1);
  EXPECT_EQ(std::count(reads.begin(), reads.end(), original), 0);
  auto rec = store_.Get(id);
  ASSERT_TRUE(rec.ok());
  ASSERT_TRUE(rec->detections.has_value());
  EXPECT_TRUE(rec->detections->exif.gps_present);
  EXPECT_EQ(rec->detections->exif.camera, "PhotoTest Synth 1");
  EXPECT_EQ(ScratchFiles(), 0);
}

TEST_P(RemoteStagingTest, DetectFallsBackToTheOriginalWithoutCleanRenditions) {
  const std::string id = AddImage(image::testing::MakePhoto({.width = 1600, .height = 1200}));
  for (const char* stage : {"resize", "watermark"})
    ASSERT_EQ(HandleJob(ctx_, Job(id, stage)).kind, Outcome::Kind::kAck) << stage;
  // An operator removed the clean twins: detect analyses the thumb (the only
  // clean file left) rather than failing.
  const std::string dir = pipeline::ImageFolderKey(id);
  ASSERT_TRUE(blobs_->Delete(dir + "clean/medium.jpg").ok());
  ASSERT_TRUE(blobs_->Delete(dir + "clean/large.jpg").ok());
  Outcome o = HandleJob(ctx_, Job(id, "detect"));
  ASSERT_EQ(o.kind, Outcome::Kind::kAck) << o.error.ToString();
  auto rec = store_.Get(id);
  ASSERT_TRUE(rec.ok());
  ASSERT_TRUE(rec->detections.has_value());
  EXPECT_EQ(rec->detections->analysed_width, 320);
  EXPECT_EQ(ScratchFiles(), 0);
}

TEST_P(RemoteStagingTest, RerunAfterALostAckRewritesTheSameObjects) {
  const std::string id = AddImage(image::testing::MakePhoto({.width = 900, .height = 700}));
  ASSERT_EQ(HandleJob(ctx_, Job(id, "resize")).kind, Outcome::Kind::kAck);
  auto first = store_.Get(id);
  ASSERT_TRUE(first.ok());
  // The worker died after storing the outputs but before the record said
  // so: the redelivered job runs again.
  ASSERT_TRUE(store_
                  .Update(id,
                          [](store::ImageRecord& r) {
                            r.Stage("resize").state = "processing";
                            return Status::Ok();
                          })
                  .ok());
  Delivery again = Job(id, "resize");
  again.redelivered = true;
  ASSERT_EQ(HandleJob(ctx_, again).kind, Outcome::Kind::kAck);
  auto second = store_.Get(id);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(first->renditions.size(), second->renditions.size());
  for (std::size_t i = 0; i < first->renditions.size(); ++i) {
    EXPECT_EQ(first->renditions[i].path, second->renditions[i].path);
    EXPECT_EQ(first->renditions[i].bytes, second->renditions[i].bytes);
    EXPECT_EQ(blobs_->Head(second->renditions[i].path)->size, second->renditions[i].bytes);
  }
}

TEST_P(RemoteStagingTest, MissingOriginalParksTheImage) {
  const std::string id = AddImage("x");
  ASSERT_TRUE(blobs_->Delete(pipeline::Layout("").Original(id).generic_string()).ok());
  Outcome o = HandleJob(ctx_, Job(id, "resize"));
  EXPECT_EQ(o.kind, Outcome::Kind::kPark) << o.error.ToString();
  EXPECT_EQ(o.error.code(), StatusCode::kNotFound);
  EXPECT_EQ(ScratchFiles(), 0);
}

}  // namespace photo::worker::testing
