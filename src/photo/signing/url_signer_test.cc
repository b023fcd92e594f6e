#include "photo/signing/url_signer.h"

#include <gtest/gtest.h>

namespace photo::signing {
namespace {

std::string QueryOf(const std::string& url) { return url.substr(url.find('?') + 1); }

TEST(UrlSignerTest, SignVerifyExpireTamperRotate) {
  const std::string path = "/images/0123456789abcdef0123456789abcdef/thumb";
  UrlSigner s("key-1", "", 60);
  const std::string url = s.Sign(path, 1000);
  EXPECT_EQ(url.rfind(path + "?exp=1060&sig=", 0), 0u) << url;
  EXPECT_EQ(s.Verify(path, QueryOf(url), 1000), UrlSigner::Check::kValid);
  EXPECT_EQ(s.Verify(path, QueryOf(url), 1060), UrlSigner::Check::kValid);
  EXPECT_EQ(s.Verify(path, QueryOf(url), 1061), UrlSigner::Check::kExpired);
  EXPECT_EQ(s.Verify(path, "", 1000), UrlSigner::Check::kMissing);
  EXPECT_EQ(s.Verify(path + "x", QueryOf(url), 1000), UrlSigner::Check::kInvalid);  // another path
  std::string longer = QueryOf(url);
  longer.replace(longer.find("1060"), 4, "9999");  // a later expiry: signature breaks
  EXPECT_EQ(s.Verify(path, longer, 1000), UrlSigner::Check::kInvalid);
  std::string flipped = QueryOf(url);
  flipped.back() = flipped.back() == 'a' ? 'b' : 'a';
  EXPECT_EQ(s.Verify(path, flipped, 1000), UrlSigner::Check::kInvalid);
  EXPECT_EQ(s.Verify(path, "exp=1060", 1000), UrlSigner::Check::kInvalid);

  // Rotation: the new key signs, the previous one still verifies.
  UrlSigner rotated("key-2", "key-1", 60);
  EXPECT_EQ(rotated.Verify(path, QueryOf(url), 1000), UrlSigner::Check::kValid);
  EXPECT_EQ(rotated.Verify(path, QueryOf(rotated.Sign(path, 1000)), 1000), UrlSigner::Check::kValid);
  UrlSigner later("key-3", "key-2", 60);  // two rotations on: key-1 links are dead
  EXPECT_EQ(later.Verify(path, QueryOf(url), 1000), UrlSigner::Check::kInvalid);

  UrlSigner off("", "", 60);
  EXPECT_EQ(off.Sign(path, 1000), path);
  EXPECT_EQ(off.Verify(path, QueryOf(url), 1000), UrlSigner::Check::kInvalid);
}

TEST(UrlSignerTest, HmacMatchesRfc4231) {
  // RFC 4231 test case 2.
  EXPECT_EQ(HmacSha256Hex("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

}  // namespace
}  // namespace photo::signing
