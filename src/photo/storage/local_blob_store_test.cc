#include "photo/storage/local_blob_store.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "photo/storage/storage_factory.h"
#include "photo/storage/testing/blob_store_suite.h"

namespace photo::storage {
namespace {
namespace fs = std::filesystem;

fs::path TestRoot() {
  static const fs::path root = [] {
    fs::path p = fs::temp_directory_path() / ("local-blob-test-" + std::to_string(::getpid()));
    fs::create_directories(p);
    return p;
  }();
  return root;
}

using testing::BlobStoreContract;
INSTANTIATE_TEST_SUITE_P(Local, BlobStoreContract,
                         ::testing::Values(testing::StoreFactory{"local", []() -> std::unique_ptr<BlobStore> {
                           return std::make_unique<LocalBlobStore>(TestRoot());
                         }}),
                         [](const auto& p) { return p.param.name; });

TEST(LocalBlobStore, KeysAreTheDataDirLayout) {
  LocalBlobStore store(TestRoot());
  ASSERT_TRUE(store.Put("images/ab/abcd/original", "bytes").ok());
  EXPECT_TRUE(fs::is_regular_file(TestRoot() / "images/ab/abcd/original"));
  EXPECT_EQ(*store.LocalPath("images/ab/abcd/original"), TestRoot() / "images/ab/abcd/original");
  EXPECT_EQ(store.PresignGet("images/ab/abcd/original", 60).error().code(),
            StatusCode::kUnimplemented);
}

TEST(LocalBlobStore, ListSkipsTempFiles) {
  LocalBlobStore store(TestRoot());
  ASSERT_TRUE(store.Put("tmpcheck/a", "1").ok());
  std::ofstream(TestRoot() / "tmpcheck/.a.123.tmp") << "partial";
  auto l = store.List("tmpcheck/");
  ASSERT_TRUE(l.ok());
  ASSERT_EQ(l->size(), 1u);
  EXPECT_EQ((*l)[0].key, "tmpcheck/a");
}

TEST(StorageFactory, PicksTheStoreBySetting) {
  auto local = OpenBlobStore("", TestRoot());
  ASSERT_TRUE(local.ok());
  EXPECT_TRUE((*local)->LocalPath("x").has_value());
  auto file = OpenBlobStore("file:///tmp/somewhere", TestRoot());
  ASSERT_TRUE(file.ok());
  EXPECT_EQ(*(*file)->LocalPath("x"), fs::path("/tmp/somewhere/x"));
  auto bad = OpenBlobStore("ftp://x", TestRoot());
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().message().find("PHOTO_PIPELINE_STORAGE"), std::string::npos);
}

TEST(StorageFactory, CheckedStoreFailsAtOpenWhenTheStoreCannotBeUsed) {
  EXPECT_TRUE(OpenCheckedBlobStore("", TestRoot()).ok());
  // A regular file where the data dir should be: Check() fails, naming it.
  const fs::path file = TestRoot() / "not-a-dir";
  { std::ofstream(file) << "x"; }
  auto blocked = OpenCheckedBlobStore("file://" + (file / "data").string(), TestRoot());
  ASSERT_FALSE(blocked.ok());
  EXPECT_NE(blocked.error().ToString().find("PHOTO_PIPELINE_DATA_DIR"), std::string::npos)
      << blocked.error().ToString();
}

}  // namespace
}  // namespace photo::storage
