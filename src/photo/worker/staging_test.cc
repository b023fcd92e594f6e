#include "photo/worker/staging.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <fstream>

#include <gtest/gtest.h>

#include "photo/storage/local_blob_store.h"
#include "photo/worker/orphans.h"
#include "photo/worker/testing/staging_suite.h"

namespace photo::worker {
namespace {
namespace fs = std::filesystem;

// A LocalBlobStore in a folder of its own plays the remote store: the
// worker sees it only through the BlobStore interface.
using testing::RemoteStagingTest;
INSTANTIATE_TEST_SUITE_P(Unit, RemoteStagingTest,
                         ::testing::Values(testing::RemoteFactory{
                             "local_as_remote",
                             []() -> std::unique_ptr<storage::BlobStore> {
                               static const fs::path root =
                                   fs::temp_directory_path() /
                                   ("photo_staging_remote_" + std::to_string(::getpid()));
                               return std::make_unique<storage::LocalBlobStore>(root);
                             }}),
                         [](const auto& p) { return p.param.name; });

TEST(ScratchRoot, RemovesFoldersOfDeadWorkersAndKeepsLiveOnes) {
  const fs::path root = fs::temp_directory_path() / ("photo_scratch_" + std::to_string(::getpid()));
  fs::remove_all(root);
  fs::create_directories(root / "111" / "job");
  std::ofstream(root / "111" / "job" / "original") << "left by a killed worker";
  std::ofstream(root / "111" / ".lock");
  fs::create_directories(root / "222");
  const int live = ::open((root / "222" / ".lock").c_str(), O_RDWR | O_CREAT, 0644);
  ASSERT_GE(live, 0);
  // flock locks belong to the open file description: a second open in this
  // process does not get it, just as another worker would not.
  ASSERT_EQ(::flock(live, LOCK_EX | LOCK_NB), 0);
  {
    auto scratch = ScratchRoot::Open(root);
    ASSERT_TRUE(scratch.ok()) << scratch.error().ToString();
    EXPECT_FALSE(fs::exists(root / "111"));
    EXPECT_TRUE(fs::exists(root / "222"));
    EXPECT_TRUE(fs::is_directory((*scratch)->dir()));
  }
  EXPECT_FALSE(fs::exists(root / std::to_string(::getpid())));
  ::close(live);
  fs::remove_all(root);
}

}  // namespace
}  // namespace photo::worker

namespace photo::worker {
namespace {

TEST(SweepOrphans, DeletesOnlyOldBlobsOfImagesWithoutRecords) {
  const fs::path root = fs::temp_directory_path() / ("photo_sweep_" + std::to_string(::getpid()));
  fs::remove_all(root);
  storage::LocalBlobStore blobs(root);
  store::MemoryStatusStore records;
  const pipeline::Layout keys("");
  const std::string kept = NewImageId(), orphan = NewImageId();
  ASSERT_TRUE(records.Create(store::NewRecord(kept, "a.jpg", NowUnixMillis())).ok());
  for (const std::string& id : {kept, orphan}) {
    ASSERT_TRUE(blobs.Put(keys.Original(id).generic_string(), "x").ok());
    ASSERT_TRUE(blobs.Put((keys.ImageDir(id) / "thumb.jpg").generic_string(), "y").ok());
  }
  const std::int64_t now = NowUnixMillis();
  // Too young: an upload in flight stores its original before its record.
  auto young = SweepOrphans(blobs, records, now, 3'600'000, false);
  ASSERT_TRUE(young.ok());
  EXPECT_TRUE(young->orphan_ids.empty());
  auto dry = SweepOrphans(blobs, records, now + 7'200'000, 3'600'000, true);
  ASSERT_TRUE(dry.ok());
  EXPECT_EQ(dry->orphan_ids, std::vector<std::string>{orphan});
  EXPECT_EQ(dry->blobs_deleted, 0);
  auto swept = SweepOrphans(blobs, records, now + 7'200'000, 3'600'000, false);
  ASSERT_TRUE(swept.ok());
  EXPECT_EQ(swept->images_seen, 2);
  EXPECT_EQ(swept->blobs_deleted, 2);
  EXPECT_FALSE(blobs.Head(keys.Original(orphan).generic_string()).ok());
  EXPECT_TRUE(blobs.Head(keys.Original(kept).generic_string()).ok());
  fs::remove_all(root);
}

}  // namespace
}  // namespace photo::worker
