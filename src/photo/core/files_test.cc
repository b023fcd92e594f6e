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

TEST_F(FilesTest, AtomicWriteCreatesDirsAndLeavesNoTemp) {
  fs::path p = dir_ / "a" / "b" / "out.bin";
  ASSERT_TRUE(WriteFileAtomic(p, std::string_view("hello")).ok());
  EXPECT_EQ(*ReadFile(p), "hello");
  ASSERT_TRUE(WriteFileAtomic(p, std::string_view("again")).ok());
  EXPECT_EQ(*ReadFile(p), "again");
  int entries = 0;
  for (auto& e : fs::directory_iterator(p.parent_path())) {
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
