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

}  // namespace
}  // namespace photo::pipeline
