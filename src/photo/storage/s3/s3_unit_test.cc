// S3 adapter pieces that need no server: settings, SigV4 query signing
// (AWS's published example), XML answers.
#include <gtest/gtest.h>

#include <cstdlib>

#include "photo/storage/s3/s3_config.h"
#include "photo/storage/s3/s3_xml.h"
#include "photo/storage/s3/sigv4.h"

namespace photo::storage {
namespace {

class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) ::setenv(name, value, 1);
    else ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_, old_->c_str(), 1);
    else ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// The example of "Authenticating Requests: Using Query Parameters (AWS
// Signature Version 4)" in the Amazon S3 API reference.
TEST(SigV4, PresignedUrlMatchesAwsExample) {
  PresignRequest r;
  r.endpoint = "https://examplebucket.s3.amazonaws.com";
  r.path = "/test.txt";
  r.region = "us-east-1";
  r.access_key = "AKIAIOSFODNN7EXAMPLE";
  r.secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
  r.now_unix = 1369353600;  // 2013-05-24T00:00:00Z
  r.expires_seconds = 86400;
  EXPECT_EQ(PresignGetUrl(r),
            "https://examplebucket.s3.amazonaws.com/test.txt"
            "?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
            "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
            "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

TEST(SigV4, UriEncodeAndDigests) {
  EXPECT_EQ(UriEncode("a b/c~d*", true), "a%20b/c~d%2A");
  EXPECT_EQ(UriEncode("a/b", false), "a%2Fb");
  EXPECT_EQ(HexSha256(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Base64Md5(""), "1B2M2Y8AsgTpgAmY7PhCfg==");
}

TEST(S3Config, ParsesUrlAndEnvironment) {
  ScopedEnv e1("PHOTO_PIPELINE_S3_ENDPOINT", "http://127.0.0.1:7480/");
  ScopedEnv e2("AWS_ACCESS_KEY_ID", "k");
  ScopedEnv e3("AWS_SECRET_ACCESS_KEY", "s");
  ScopedEnv e4("PHOTO_PIPELINE_S3_MULTIPART_THRESHOLD", "1048576");
  auto c = S3Config::FromEnv("s3://my-bucket/some/prefix");
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  EXPECT_EQ(c->bucket, "my-bucket");
  EXPECT_EQ(c->prefix, "some/prefix/");
  EXPECT_EQ(c->endpoint, "http://127.0.0.1:7480");
  EXPECT_EQ(c->region, "us-east-1");
  EXPECT_EQ(c->multipart_threshold, 1048576u);
  EXPECT_EQ(S3Config::FromEnv("s3://my-bucket")->prefix, "");
}

TEST(S3Config, ErrorsNameTheSetting) {
  ScopedEnv e1("PHOTO_PIPELINE_S3_ENDPOINT", nullptr);
  ScopedEnv e2("AWS_ACCESS_KEY_ID", "k");
  ScopedEnv e3("AWS_SECRET_ACCESS_KEY", "s");
  auto msg = [](std::string_view url) {
    auto c = S3Config::FromEnv(url);
    return c.ok() ? std::string("ok") : c.error().message();
  };
  EXPECT_NE(msg("s3://bucket").find("PHOTO_PIPELINE_S3_ENDPOINT"), std::string::npos);
  {
    ScopedEnv ep("PHOTO_PIPELINE_S3_ENDPOINT", "http://h:1");
    EXPECT_NE(msg("s3://b1").find("PHOTO_PIPELINE_STORAGE"), std::string::npos);
    EXPECT_NE(msg("s3://Bad_Bucket").find("PHOTO_PIPELINE_STORAGE"), std::string::npos);
    ScopedEnv noKey("AWS_SECRET_ACCESS_KEY", nullptr);
    EXPECT_NE(msg("s3://bucket").find("AWS_SECRET_ACCESS_KEY"), std::string::npos);
  }
  {
    ScopedEnv ep("PHOTO_PIPELINE_S3_ENDPOINT", "127.0.0.1:7480");
    EXPECT_NE(msg("s3://bucket").find("PHOTO_PIPELINE_S3_ENDPOINT"), std::string::npos);
  }
  {
    ScopedEnv ep("PHOTO_PIPELINE_S3_ENDPOINT", "http://h:1");
    ScopedEnv n("PHOTO_PIPELINE_S3_ATTEMPTS", "zero");
    EXPECT_NE(msg("s3://bucket").find("PHOTO_PIPELINE_S3_ATTEMPTS"), std::string::npos);
  }
}

TEST(S3Xml, ParsesErrorsAndListings) {
  auto e = ParseS3Error(
      "<?xml version=\"1.0\"?><Error><Code>SlowDown</Code><Message>Reduce your rate</Message></Error>");
  ASSERT_TRUE(e.has_value());
  EXPECT_EQ(e->code, "SlowDown");
  EXPECT_EQ(e->message, "Reduce your rate");
  EXPECT_FALSE(ParseS3Error("<ListBucketResult/>").has_value());
  EXPECT_FALSE(ParseS3Error("not xml").has_value());

  auto page = ParseListObjectsV2(
      "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
      "<IsTruncated>true</IsTruncated><NextContinuationToken>tok</NextContinuationToken>"
      "<Contents><Key>a/b &amp; c</Key><LastModified>2026-12-05T20:28:34.027Z</LastModified>"
      "<Size>12</Size></Contents>"
      "<Contents><Key>a/d</Key><Size>0</Size></Contents></ListBucketResult>");
  ASSERT_TRUE(page.ok()) << page.error().ToString();
  ASSERT_EQ(page->entries.size(), 2u);
  EXPECT_EQ(page->entries[0].key, "a/b & c");
  EXPECT_EQ(page->entries[0].size, 12u);
  EXPECT_EQ(page->entries[0].modified_unix_ms, 1796502514027);
  EXPECT_EQ(page->next_token, "tok");
  EXPECT_EQ(*FirstXmlText("<InitiateMultipartUploadResult><UploadId>2~x</UploadId>"
                          "</InitiateMultipartUploadResult>",
                          "UploadId"),
            "2~x");
}

}  // namespace
}  // namespace photo::storage
