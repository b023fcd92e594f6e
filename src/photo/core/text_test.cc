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

TEST(TextTest, BoundedErrorTextKeepsTheFirstAndLastLine) {
  EXPECT_EQ(BoundedErrorText("VipsJpeg: Premature end of input file\n"), "VipsJpeg: Premature end of input file");
  EXPECT_EQ(BoundedErrorText("what failed\nwhy\n"), "what failed | why");
  EXPECT_EQ(BoundedErrorText("\n  \r\nfirst\r\nnoise\nnoise\n\ncause\n"), "first [...] cause");
  EXPECT_EQ(BoundedErrorText(""), "");
  EXPECT_EQ(BoundedErrorText("\n \n"), "");
}

TEST(TextTest, BoundedErrorTextRemovesControlCharactersAndBadUtf8) {
  EXPECT_EQ(BoundedErrorText("a\tb\x1b[31mc\x7f"), "a b [31mc");
  EXPECT_EQ(BoundedErrorText("caf\xc3\xa9 \xff\xc3(x"), "caf\xc3\xa9 ?" "?(x");
  EXPECT_EQ(BoundedErrorText("\xed\xa0\x80"), "???");  // a UTF-16 surrogate is not UTF-8
}

TEST(TextTest, BoundedErrorTextCutsOnACharacterBoundary) {
  const std::string long_line(5000, 'x');
  EXPECT_EQ(BoundedErrorText(long_line), std::string(kMaxErrorTextBytes - 3, 'x') + "...");
  EXPECT_EQ(BoundedErrorText(std::string(kMaxErrorTextBytes, 'y')), std::string(kMaxErrorTextBytes, 'y'));
  // 2-byte characters never split: 10 bytes allow 3 of them and the marker.
  std::string accents;
  for (int i = 0; i < 20; ++i) accents += "\xc3\xa9";
  EXPECT_EQ(BoundedErrorText(accents, 10), "\xc3\xa9\xc3\xa9\xc3\xa9...");
  EXPECT_LE(BoundedErrorText(accents, 2).size(), 2u);
}

TEST(TextTest, BoundedErrorTextKeepsRoomForTheCause) {
  std::string many;
  for (int i = 0; i < 200; ++i) many += "TIFFFetchNormalTag: custom tag " + std::to_string(i) + " " + std::string(40, 'z') + "\n";
  many += "vips__tiff_openin_source: unable to open source for input\n";
  const std::string text = BoundedErrorText(many);
  EXPECT_LE(text.size(), kMaxErrorTextBytes);
  EXPECT_EQ(text.rfind("TIFFFetchNormalTag: custom tag 0 ", 0), 0u) << text;
  EXPECT_NE(text.find(" [...] vips__tiff_openin_source: unable to open source for input"), std::string::npos) << text;
  // A long first and a long last line share the room.
  const std::string both = BoundedErrorText(std::string(400, 'a') + "\n" + std::string(400, 'b'));
  EXPECT_EQ(both.size(), kMaxErrorTextBytes);
  EXPECT_NE(both.find("... | bbb"), std::string::npos) << both;
  for (std::size_t max = 0; max < 40; ++max) {
    EXPECT_LE(BoundedErrorText(std::string(50, 'a') + "\n" + std::string(50, 'b'), max).size(), max);
  }
}

}  // namespace
}  // namespace photo
