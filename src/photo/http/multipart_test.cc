// MultipartParser: well-formed bodies in every split, and the malformed ones.
#include "photo/http/multipart.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace photo::http {
namespace {

struct Recorder : MultipartHandler {
  Status OnPartBegin(const PartHeader& p) override {
    parts.push_back({p, ""});
    return Status::Ok();
  }
  Status OnPartData(std::string_view d) override {
    parts.back().second.append(d);
    return Status::Ok();
  }
  Status OnPartEnd() override {
    ++ended;
    return Status::Ok();
  }
  std::vector<std::pair<PartHeader, std::string>> parts;
  int ended = 0;
};

constexpr char kBodyText[] =
    "preamble\r\n"
    "--XyZ\r\n"
    "Content-Disposition: form-data; name=\"note\"\r\n"
    "\r\n"
    "hello\r\n"
    "--XyZ   \r\n"
    "content-disposition: form-data; name=\"file\"; filename=\"C:\\dir\\a \\\"b.jpg\"\r\n"
    "Content-Type: image/jpeg\r\n"
    "\r\n"
    "\r\n--Xy\r\n-XyZx binary \0 bytes\r\n"
    "--XyZ--\r\n"
    "epilogue --XyZ\r\n";
const std::string kBody(kBodyText, sizeof kBodyText - 1);  // keeps the NUL

TEST(MultipartTest, ParsesEverySplitTheSame) {
  const std::string& body = kBody;
  for (size_t step : {size_t{1}, size_t{2}, size_t{3}, size_t{7}, size_t{64}, body.size()}) {
    SCOPED_TRACE(step);
    Recorder r;
    MultipartParser p("XyZ", &r);
    for (size_t i = 0; i < body.size(); i += step) {
      Status s = p.Feed(std::string_view(body).substr(i, step));
      ASSERT_TRUE(s.ok()) << s.ToString() << " at " << i;
    }
    ASSERT_TRUE(p.Finish().ok());
    EXPECT_TRUE(p.done());
    ASSERT_EQ(r.parts.size(), 2u);
    EXPECT_EQ(r.ended, 2);
    EXPECT_EQ(r.parts[0].first.name, "note");
    EXPECT_FALSE(r.parts[0].first.has_filename);
    EXPECT_EQ(r.parts[0].second, "hello");
    EXPECT_EQ(r.parts[1].first.name, "file");
    EXPECT_EQ(r.parts[1].first.filename, "C:\\dir\\a \\");  // a quoted value ends at the next quote
    EXPECT_EQ(r.parts[1].first.content_type, "image/jpeg");
    EXPECT_EQ(r.parts[1].second, std::string("\r\n--Xy\r\n-XyZx binary \0 bytes", 28));
  }
}

TEST(MultipartTest, ExtendedFilenameWins) {
  Recorder r;
  MultipartParser p("b", &r);
  ASSERT_TRUE(p.Feed("--b\r\nContent-Disposition: form-data; name=file; filename=\"x.jpg\"; "
                     "filename*=UTF-8''%C3%A9t%C3%A9.jpg\r\n\r\nA\r\n--b--")
                  .ok());
  ASSERT_TRUE(p.Finish().ok());
  ASSERT_EQ(r.parts.size(), 1u);
  EXPECT_EQ(r.parts[0].first.filename, "\xC3\xA9t\xC3\xA9.jpg");
}

TEST(MultipartTest, MalformedBodiesAreRefused) {
  const std::vector<std::string> bad = {
      "",                                                             // no boundary at all
      "this is not multipart",                                        // idem
      "--b\r\nContent-Disposition: form-data; name=\"f\"\r\n\r\nabc",  // unterminated
      "--b\nContent-Disposition: form-data; name=\"f\"\n\nabc\n--b--\n",  // LF only
      "--bX\r\n\r\nabc\r\n--b--",                                     // junk after a boundary
      "--b\r\nNoColonHere\r\n\r\nabc\r\n--b--",                       // header line without a name
      "--b\r\n" + std::string(20000, 'h') + "\r\n\r\nabc\r\n--b--",   // headers too long
  };
  for (const std::string& body : bad) {
    SCOPED_TRACE(body.substr(0, 40));
    Recorder r;
    MultipartParser p("b", &r);
    Status s = p.Feed(body);
    if (s.ok()) s = p.Finish();
    EXPECT_FALSE(s.ok());
    EXPECT_EQ(s.reason(), "malformed_multipart");
  }
}

TEST(MultipartTest, HandlerErrorsStopParsing) {
  struct Refuser : Recorder {
    Status OnPartBegin(const PartHeader&) override { return InvalidArgumentError("too_many_files", "x"); }
  } r;
  MultipartParser p("b", &r);
  Status s = p.Feed("--b\r\n\r\nabc\r\n--b--");
  EXPECT_EQ(s.reason(), "too_many_files");
  EXPECT_EQ(p.Feed("more").reason(), "too_many_files");
}

TEST(MultipartTest, Boundaries) {
  EXPECT_EQ(*MultipartBoundary("multipart/form-data; boundary=XyZ"), "XyZ");
  EXPECT_EQ(*MultipartBoundary("Multipart/Form-Data;boundary=\"a b;c\""), "a b;c");
  EXPECT_EQ(*MultipartBoundary("multipart/form-data; charset=utf-8; boundary=----WebKitFormBoundary7MA4"),
            "----WebKitFormBoundary7MA4");
  for (const char* bad : {"multipart/form-data", "multipart/form-data; boundary=", "text/plain; boundary=x",
                          "application/octet-stream", ""}) {
    EXPECT_FALSE(MultipartBoundary(bad).ok()) << bad;
  }
  EXPECT_FALSE(MultipartBoundary("multipart/form-data; boundary=" + std::string(71, 'a')).ok());
}

}  // namespace
}  // namespace photo::http
