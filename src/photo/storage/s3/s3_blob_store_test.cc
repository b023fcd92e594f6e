// The S3 adapter against a real Ceph RADOS Gateway (scripts/s3.sh, ctest
// fixture "s3"): the BlobStore contract, multipart upload, the server's
// integrity check, retries across a gateway restart, start-up errors and
// presigned URLs.
#include "photo/storage/s3/s3_blob_store.h"

#include <curl/curl.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <thread>

#include "photo/storage/s3/sigv4.h"
#include "photo/storage/testing/blob_store_suite.h"
#include "photo/storage/testing/test_gateway.h"

namespace photo::storage {
namespace {

using testing::RandomBytes;
using testing::UniquePrefix;

S3Config TestConfig() {
  S3Config c = testing::TestGatewayConfig("storage-test/");
  c.backoff_ms = 50;
  c.timeout_ms = 20'000;
  return c;
}

int S3Script(const std::string& command) {
  const std::string cmd = std::string("PHOTO_S3_DIR=") + PHOTO_TEST_S3_DIR +
                          " PHOTO_S3_PORT=" + PHOTO_TEST_S3_PORT + " " + PHOTO_TEST_SOURCE_DIR +
                          "/scripts/s3.sh " + command;
  return std::system(cmd.c_str());
}

using testing::BlobStoreContract;
INSTANTIATE_TEST_SUITE_P(S3, BlobStoreContract,
                         ::testing::Values(testing::StoreFactory{"s3", []() -> std::unique_ptr<BlobStore> {
                           return std::make_unique<S3BlobStore>(TestConfig());
                         }}),
                         [](const auto& p) { return p.param.name; });

TEST(S3BlobStore, MultipartAboveThreshold) {
  S3Config c = TestConfig();
  c.multipart_threshold = 300 * 1024;
  c.part_size = 256 * 1024;  // the test gateway allows parts this small
  S3BlobStore store(c);
  const std::string p = UniquePrefix();
  const std::string data = RandomBytes(1'100'000, 7);  // 5 parts, the last one short
  ASSERT_TRUE(store.Put(p + "big", data).ok());
  auto head = store.Head(p + "big");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->size, data.size());
  // A multipart object's ETag is "<md5 of the part md5s>-<parts>".
  EXPECT_NE(head->etag.find("-5\""), std::string::npos) << head->etag;
  EXPECT_EQ(*GetBytes(store, p + "big"), data);

  const auto file = std::filesystem::temp_directory_path() / ("s3-mp-" + p.substr(0, p.size() - 1));
  { std::ofstream(file, std::ios::binary) << data; }
  ASSERT_TRUE(store.PutFile(p + "bigfile", file).ok());
  EXPECT_EQ(*GetBytes(store, p + "bigfile", ByteRange{299'990, 300'009}), data.substr(299'990, 20));
  std::filesystem::remove(file);

  // Below the threshold: one PUT (a plain MD5 ETag, no part count).
  ASSERT_TRUE(store.Put(p + "small", data.substr(0, 1000)).ok());
  EXPECT_EQ(store.Head(p + "small")->etag.find('-'), std::string::npos);
}

TEST(S3BlobStore, WrongContentMd5IsRefusedAndNothingStored) {
  S3BlobStore store(TestConfig());
  const std::string p = UniquePrefix();
  Status s = store.PutWithContentMd5ForTest(p + "bad", "the real bytes", Base64Md5("other bytes"));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("BadDigest"), std::string::npos) << s.ToString();
  EXPECT_EQ(store.Head(p + "bad").error().code(), StatusCode::kNotFound);
  // The same bytes with their own digest go through.
  EXPECT_TRUE(store.Put(p + "bad", "the real bytes").ok());
}

TEST(S3BlobStore, RetriesAcrossAGatewayRestart) {
  S3Config c = TestConfig();
  c.attempts = 40;
  c.backoff_ms = 100;  // doubling to 5 s: ~60 s of patience in all
  S3BlobStore store(c);
  const std::string p = UniquePrefix();
  const std::string data = RandomBytes(200'000, 9);
  ASSERT_TRUE(store.Put(p + "before", data).ok());

  ASSERT_EQ(S3Script("stop-gateway"), 0);
  {
    S3Config once = TestConfig();
    once.attempts = 1;
    S3BlobStore impatient(once);
    Status down = impatient.Check();
    ASSERT_FALSE(down.ok());
    EXPECT_NE(down.message().find("PHOTO_PIPELINE_S3_ENDPOINT"), std::string::npos) << down.ToString();
    EXPECT_EQ(impatient.Put(p + "x", "x").code(), StatusCode::kUnavailable);
  }
  Status put;
  Result<std::string> got = std::string();
  std::thread writer([&] {
    put = store.Put(p + "during", data);
    got = GetBytes(store, p + "before");
  });
  std::this_thread::sleep_for(std::chrono::seconds(2));
  ASSERT_EQ(S3Script("start-gateway"), 0);
  writer.join();
  ASSERT_TRUE(put.ok()) << put.ToString();
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_EQ(*got, data);
  EXPECT_EQ(*GetBytes(store, p + "during"), data);
}

TEST(S3BlobStore, StartupCheckNamesTheWrongSetting) {
  {
    S3Config c = TestConfig();
    c.bucket = "no-such-bucket-here";
    Status s = S3BlobStore(c).Check();
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("PHOTO_PIPELINE_STORAGE"), std::string::npos) << s.ToString();
  }
  {
    S3Config c = TestConfig();
    c.secret_key = "wrong";
    Status s = S3BlobStore(c).Check();
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("AWS_SECRET_ACCESS_KEY"), std::string::npos) << s.ToString();
  }
  {
    S3Config c = TestConfig();
    c.endpoint = "http://127.0.0.1:1";
    c.attempts = 1;
    Status s = S3BlobStore(c).Check();
    ASSERT_FALSE(s.ok());
    EXPECT_NE(s.message().find("PHOTO_PIPELINE_S3_ENDPOINT"), std::string::npos) << s.ToString();
  }
  EXPECT_TRUE(S3BlobStore(TestConfig()).Check().ok());
}

// GET without credentials: what a browser or CDN does with a presigned URL.
long PlainGet(const std::string& url, std::string* body, std::string* type) {
  CURL* h = curl_easy_init();
  curl_easy_setopt(h, CURLOPT_URL, url.c_str());
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION,
                   +[](char* d, size_t s, size_t n, void* u) {
                     static_cast<std::string*>(u)->append(d, s * n);
                     return s * n;
                   });
  curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
  long code = 0;
  if (curl_easy_perform(h) == CURLE_OK) curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
  char* ct = nullptr;
  curl_easy_getinfo(h, CURLINFO_CONTENT_TYPE, &ct);
  if (type != nullptr && ct != nullptr) *type = ct;
  curl_easy_cleanup(h);
  return code;
}

TEST(S3BlobStore, PresignedUrlServesTheObjectUntilItExpires) {
  S3BlobStore store(TestConfig());
  const std::string p = UniquePrefix();
  const std::string data = RandomBytes(50'000, 11);
  ASSERT_TRUE(store.Put(p + "thumb.jpg", data).ok());
  auto url = store.PresignGet(p + "thumb.jpg", 600);
  ASSERT_TRUE(url.ok());
  std::string body, type;
  EXPECT_EQ(PlainGet(*url, &body, &type), 200) << body;
  EXPECT_EQ(body, data);
  EXPECT_EQ(type, "image/jpeg");

  std::string tampered = *url;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  body.clear();
  EXPECT_EQ(PlainGet(tampered, &body, nullptr), 403);

  auto short_lived = store.PresignGet(p + "thumb.jpg", 1);
  ASSERT_TRUE(short_lived.ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  body.clear();
  EXPECT_EQ(PlainGet(*short_lived, &body, nullptr), 403);
}

}  // namespace
}  // namespace photo::storage
