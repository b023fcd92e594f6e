#include "photo/core/ids.h"

#include <gtest/gtest.h>

#include <set>

namespace photo {
namespace {

TEST(IdsTest, NewIdsAreValidAndDistinct) {
  std::set<std::string> seen;
  for (int i = 0; i < 1000; ++i) {
    std::string id = NewImageId();
    EXPECT_TRUE(IsValidImageId(id)) << id;
    EXPECT_TRUE(seen.insert(id).second);
  }
}

TEST(IdsTest, RejectsPathsAndJunk) {
  EXPECT_FALSE(IsValidImageId(""));
  EXPECT_FALSE(IsValidImageId("../../etc/passwd"));
  EXPECT_FALSE(IsValidImageId("0123456789abcdef0123456789abcdeG"));
  EXPECT_TRUE(IsValidImageId("123e4567-e89b-42d3-a456-426614174000"));
}

TEST(IdsTest, SanitizeFilename) {
  EXPECT_EQ(SanitizeFilename("../../etc/passwd"), "passwd");
  EXPECT_EQ(SanitizeFilename("C:\\Users\\me\\cat.jpg"), "cat.jpg");
  EXPECT_EQ(SanitizeFilename("a\r\nb\x01.jpg"), "ab.jpg");
  EXPECT_EQ(SanitizeFilename(""), "upload");
  EXPECT_EQ(SanitizeFilename(".."), "upload");
  EXPECT_EQ(SanitizeFilename("café \xff.jpg"), "café .jpg");
  EXPECT_EQ(SanitizeFilename(std::string(600, 'x')).size(), 255u);
}

TEST(IdsTest, Iso8601) {
  EXPECT_EQ(FormatIso8601(0), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatIso8601(1795908964123), "2026-11-28T23:36:04.123Z");
}

}  // namespace
}  // namespace photo
