// HandleJob with remote blob storage (worker/staging.h), parameterised by
// the store: a LocalBlobStore in another folder stands in for a remote one
// in the unit tests; the s3-labelled test runs the same suite against the
// Ceph gateway.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <memory>

#include "photo/core/files.h"
#include "photo/core/ids.h"
#include "photo/image/testing/synth.h"
#include "photo/image/vips.h"
#include "photo/storage/blob_store.h"
#include "photo/store/memory_store.h"
#include "photo/worker/job_handler.h"
#include "photo/worker/staging.h"

namespace photo::worker::testing {

struct RemoteFactory {
  std::string name;
  std::function<std::unique_ptr<storage::BlobStore>()> make;
  friend void PrintTo(const RemoteFactory& f, std::ostream* os) { *os << f.name; }
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
