#include "photo/pipeline/layout.h"

#include <gtest/gtest.h>

#include <string>

namespace photo::pipeline {
namespace {

constexpr char kId[] = "0123456789abcdef0123456789abcdef";

TEST(ImageFolderKey, IsTheImageFolderRelativeToTheDataDirWithATrailingSlash) {
  EXPECT_EQ(ImageFolderKey(kId), std::string("images/01/") + kId + "/");
  EXPECT_EQ(ImageFolderKey("f47ac10b-58cc-4372-a567-0e02b2c3d479"),
            "images/f4/f47ac10b-58cc-4372-a567-0e02b2c3d479/");
}

TEST(ImageFolderKey, PrefixesEveryKeyOfTheImage) {
  const Layout keys("");
  image::RenditionSpec thumb;
  thumb.name = "thumb";
  for (const std::filesystem::path& p :
       {keys.Original(kId), keys.CleanRendition(kId, thumb), keys.FinalRendition(kId, thumb)}) {
    EXPECT_TRUE(p.generic_string().starts_with(ImageFolderKey(kId))) << p;
  }
  // Nothing of another image, however close its id.
  EXPECT_FALSE(keys.Original("0123456789abcdef0123456789abcdee")
                   .generic_string()
                   .starts_with(ImageFolderKey(kId)));
}

TEST(LayoutScratch, SamePathsWrittenWithoutSync) {
  const Layout data("/d");
  const Layout scratch = Layout::Scratch("/d");
  image::RenditionSpec medium;
  medium.name = "medium";
  EXPECT_EQ(scratch.Original(kId), data.Original(kId));
  EXPECT_EQ(scratch.CleanRendition(kId, medium), data.CleanRendition(kId, medium));
  EXPECT_EQ(scratch.FinalRendition(kId, medium), data.FinalRendition(kId, medium));
  EXPECT_EQ(data.durability(), Durability::kDurable);
  EXPECT_EQ(scratch.durability(), Durability::kScratch);
  EXPECT_EQ(Layout::SingleImage("/out", "/in.jpg").durability(), Durability::kDurable);
}

}  // namespace
}  // namespace photo::pipeline
