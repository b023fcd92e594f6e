#include "photo/core/files.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace photo {
namespace {
namespace fs = std::filesystem;

class FilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("photo_files_test_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

// Synced or not (a scratch copy), a write replaces the file whole and
// leaves no temp file behind.
TEST_F(FilesTest, AtomicWriteCreatesDirsAndLeavesNoTemp) {
  for (Durability d : {Durability::kDurable, Durability::kScratch}) {
    const fs::path p = dir_ / (d == Durability::kDurable ? "durable" : "scratch") / "b" / "out.bin";
    ASSERT_TRUE(WriteFileAtomic(p, std::string_view("hello"), d).ok());
    EXPECT_EQ(*ReadFile(p), "hello");
    ASSERT_TRUE(WriteFileAtomic(p, std::string_view("again"), d).ok());
    EXPECT_EQ(*ReadFile(p), "again");
    int entries = 0;
    for (auto& e : fs::directory_iterator(p.parent_path())) {
      (void)e;
      ++entries;
    }
    EXPECT_EQ(entries, 1);
  }
}

TEST_F(FilesTest, ScratchWriteIntoAMissingPlaceFailsAndLeavesNoTemp) {
  ASSERT_TRUE(WriteFileAtomic(dir_ / "blocker", std::string_view("x")).ok());
  // A regular file where the directory should be: the write cannot start.
  EXPECT_FALSE(WriteFileAtomic(dir_ / "blocker" / "out.bin", std::string_view("y"), Durability::kScratch).ok());
  // A directory where the file should be: the rename fails, the temp goes.
  fs::create_directories(dir_ / "taken" / "out.bin" / "inside");
  EXPECT_FALSE(WriteFileAtomic(dir_ / "taken" / "out.bin", std::string_view("z"), Durability::kScratch).ok());
  int entries = 0;
  for (auto& e : fs::directory_iterator(dir_ / "taken")) {
    (void)e;
    ++entries;
  }
  EXPECT_EQ(entries, 1);
}

TEST_F(FilesTest, ReadMissingIsNotFound) {
  auto r = ReadFile(dir_ / "nope");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().code(), StatusCode::kNotFound);
}

TEST(IsWithinTest, RejectsTraversal) {
  EXPECT_TRUE(IsWithin("/data", "/data/images/x.jpg"));
  EXPECT_FALSE(IsWithin("/data", "/data/../etc/passwd"));
  EXPECT_FALSE(IsWithin("/data", "/database/x"));
  EXPECT_TRUE(IsWithin("/data/", "/data/x"));
}

}  // namespace
}  // namespace photo
