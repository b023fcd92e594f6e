#include "photo/core/text.h"

#include <gtest/gtest.h>

namespace photo {
namespace {

TEST(TextTest, EscapeXml) {
  EXPECT_EQ(EscapeXml(R"(<a href="x">Tom & Jerry's</a>)"),
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;");
  EXPECT_EQ(EscapeXml("plain café"), "plain café");
  EXPECT_EQ(EscapeXml(""), "");
}

}  // namespace
}  // namespace photo
