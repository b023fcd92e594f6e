// The embedded web app keeps the promises docs/webapp.md makes: every file
// referenced exists, no inline script or style (the CSP forbids them), no
// HTML built from strings, and the whole app stays small.
#include "photo/webapp/assets.h"

#include <gtest/gtest.h>

#include <regex>
#include <string>

namespace photo::webapp {
namespace {

std::string Body(std::string_view path) {
  const Asset* a = FindAsset(path);
  return a ? std::string(a->body) : std::string();
}

TEST(WebAppAssetsTest, IndexIsServedAtTheRootAndEveryAssetHasTypeAndEtag) {
  ASSERT_NE(FindAsset("/"), nullptr);
  EXPECT_EQ(FindAsset("/index.html"), FindAsset("/"));
  EXPECT_EQ(FindAsset("/app/../index.html"), nullptr);
  EXPECT_EQ(FindAsset("/app/missing.js"), nullptr);
  for (const Asset& a : AllAssets()) {
    EXPECT_FALSE(a.body.empty()) << a.path;
    EXPECT_FALSE(a.content_type.empty()) << a.path;
    EXPECT_EQ(a.etag.size(), 18u) << a.path;
  }
  EXPECT_EQ(FindAsset("/app/main.js")->content_type, "text/javascript; charset=utf-8");
}

TEST(WebAppAssetsTest, EveryReferenceAndImportResolves) {
  const std::regex ref(R"((?:src|href)="(/app/[^"]+)\")");
  const std::string index = Body("/");
  int refs = 0;
  for (std::sregex_iterator it(index.begin(), index.end(), ref), end; it != end; ++it, ++refs)
    EXPECT_NE(FindAsset((*it)[1].str()), nullptr) << (*it)[1].str();
  EXPECT_GE(refs, 2);
  const std::regex import(R"(from '\./([a-z_]+\.js)')");
  for (const Asset& a : AllAssets()) {
    std::string body(a.body);
    for (std::sregex_iterator it(body.begin(), body.end(), import), end; it != end; ++it)
      EXPECT_NE(FindAsset("/app/" + (*it)[1].str()), nullptr) << a.path << " imports " << (*it)[1];
  }
}

TEST(WebAppAssetsTest, NothingInlineAndNoHtmlFromStrings) {
  const std::string index = Body("/");
  EXPECT_EQ(index.find("<script>"), std::string::npos);
  EXPECT_EQ(index.find("<style"), std::string::npos);
  EXPECT_FALSE(std::regex_search(index, std::regex(R"(\s(on[a-z]+|style)=)", std::regex::icase)));
  for (const Asset& a : AllAssets()) {
    if (!a.path.ends_with(".js")) continue;
    for (const char* sink : {"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write",
                             "eval(", "new Function", "setAttribute('style'"})
      EXPECT_EQ(a.body.find(sink), std::string_view::npos) << a.path << " uses " << sink;
  }
  EXPECT_EQ(kContentSecurityPolicy.find("unsafe-"), std::string_view::npos);
}

TEST(WebAppAssetsTest, TheWholeAppWeighsUnder200kB) {
  std::size_t total = 0;
  for (const Asset& a : AllAssets()) total += a.body.size();
  EXPECT_LT(total, 200u * 1024u);
}

}  // namespace
}  // namespace photo::webapp
