// The API with S3 blob storage, against the test Ceph gateway (fixture
// "s3"): the original is stored as an object before 202, a refused upload
// leaves no object, renditions download with ETag/304/ranges, with
// PHOTO_PIPELINE_S3_PRESIGN_TTL the answer is a redirect to a presigned URL
// that serves the bytes, and DELETE erases every object of the image.
#include <gtest/gtest.h>
#include <httplib.h>

#include <filesystem>
#include <nlohmann/json.hpp>

#include "photo/broker/publisher.h"
#include "photo/core/ids.h"
#include "photo/http/api_server.h"
#include "photo/image/testing/synth.h"
#include "photo/pipeline/layout.h"
#include "photo/storage/s3/s3_blob_store.h"
#include "photo/storage/testing/test_gateway.h"
#include "photo/store/memory_store.h"

namespace photo::http {
namespace {
namespace fs = std::filesystem;

storage::S3Config TestS3() { return storage::testing::TestGatewayConfig("api-test/"); }

constexpr char kAdminToken[] = "s3-test-admin";

class ApiS3Test : public ::testing::Test {
 protected:
  void Start(int presign_ttl_s = 0) {
    dir_ = fs::temp_directory_path() / ("photo_api_s3_" + NewImageId().substr(0, 12));
    ApiConfig config;
    config.host = "127.0.0.1";
    config.port = 0;
    config.data_dir = dir_;
    config.threads = 4;
    config.presign_ttl_s = presign_ttl_s;
    config.admin_token = kAdminToken;
    server_ = std::make_unique<ApiServer>(config, ApiDeps{&store_, &publisher_, nullptr, {}, &blobs_});
    ASSERT_TRUE(server_->Start().ok());
    client_ = std::make_unique<httplib::Client>("127.0.0.1", server_->port());
  }
  void TearDown() override {
    if (server_) server_->Stop();
    fs::remove_all(dir_);
  }
  httplib::Result Upload(const std::string& bytes) {
    httplib::MultipartFormDataItems items = {{"file", bytes, "p.jpg", "image/jpeg"}};
    return client_->Post("/upload/", items);
  }
  static std::string OriginalKey(const std::string& id) {
    return pipeline::Layout("").Original(id).generic_string();
  }

  storage::S3BlobStore blobs_{TestS3()};
  store::MemoryStatusStore store_;
  broker::FakePublisher publisher_;
  fs::path dir_;
  std::unique_ptr<ApiServer> server_;
  std::unique_ptr<httplib::Client> client_;
};

TEST_F(ApiS3Test, AcceptedOriginalIsAnObjectAndNothingStaysOnDisk) {
  Start();
  const std::string jpeg = image::testing::MakePhoto({.width = 640, .height = 480});
  auto res = Upload(jpeg);
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 202) << res->body;
  const std::string id = nlohmann::json::parse(res->body)["id"];
  EXPECT_EQ(store_.Get(id)->original_path, OriginalKey(id));
  EXPECT_EQ(storage::GetBytes(blobs_, OriginalKey(id)).value(), jpeg);
  std::error_code ec;
  EXPECT_FALSE(fs::exists(dir_ / "images" / id.substr(0, 2) / id, ec));
  for (const auto& e : fs::recursive_directory_iterator(dir_ / "tmp", ec))
    ADD_FAILURE() << "left in tmp: " << e.path();
}

TEST_F(ApiS3Test, DeleteErasesEveryObjectOfTheImageFromTheBucket) {
  Start();
  auto res = Upload(image::testing::MakePhoto({.width = 320, .height = 240}));
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 202) << res->body;
  const std::string id = nlohmann::json::parse(res->body)["id"];
  // What the workers store beside the original.
  const std::string folder = pipeline::ImageFolderKey(id);
  for (const char* name : {"clean/large.jpg", "large.jpg", "thumb.webp"})
    ASSERT_TRUE(blobs_.Put(folder + name, name).ok());
  const std::string neighbour = NewImageId();
  const std::string neighbour_key = OriginalKey(neighbour);
  ASSERT_TRUE(blobs_.Put(neighbour_key, "another image").ok());
  ASSERT_EQ(blobs_.List(folder)->size(), 4u);

  auto del = client_->Delete("/images/" + id, {{"Authorization", std::string("Bearer ") + kAdminToken}});
  ASSERT_TRUE(del);
  ASSERT_EQ(del->status, 204) << del->body;
  auto left = blobs_.List(folder);
  ASSERT_TRUE(left.ok()) << left.error().ToString();
  EXPECT_TRUE(left->empty()) << left->size() << " objects left, first " << left->front().key;
  EXPECT_EQ(store_.Get(id).error().code(), StatusCode::kNotFound);
  EXPECT_TRUE(blobs_.Head(neighbour_key).ok());  // only that image's objects
  const auto published = publisher_.published();
  ASSERT_FALSE(published.empty());
  EXPECT_EQ(nlohmann::json::parse(published.back().body)["status"], "deleted");
  // Idempotent: nothing left, still 204.
  auto again = client_->Delete("/images/" + id, {{"Authorization", std::string("Bearer ") + kAdminToken}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 204);
  EXPECT_TRUE(blobs_.Delete(neighbour_key).ok());
}

TEST_F(ApiS3Test, RefusedAfterThePutLeavesNoObject) {
  Start();
  publisher_.FailWith(UnavailableError("broker_down", "test"));
  auto before = blobs_.List("images/");
  ASSERT_TRUE(before.ok());
  auto res = Upload(image::testing::MakePhoto({.width = 320, .height = 240}));
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 503);
  auto after = blobs_.List("images/");
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->size(), before->size());
}

// A record with one stored rendition, as the workers leave it.
std::string AddRendition(store::MemoryStatusStore& store, storage::BlobStore& blobs, const std::string& bytes) {
  const std::string id = NewImageId();
  const pipeline::Layout keys("");
  image::RenditionSpec spec;
  spec.name = "thumb";
  const std::string key = keys.FinalRendition(id, spec).generic_string();
  EXPECT_TRUE(blobs.Put(key, bytes).ok());
  store::ImageRecord rec = store::NewRecord(id, "p.jpg", NowUnixMillis());
  rec.original_path = keys.Original(id).generic_string();
  image::Rendition r;
  r.name = "thumb";
  r.path = key;
  r.bytes = bytes.size();
  rec.renditions.push_back(r);
  EXPECT_TRUE(store.Create(rec).ok());
  return id;
}

TEST_F(ApiS3Test, RenditionStreamsWithEtagNotModifiedAndRanges) {
  Start();
  const std::string bytes = image::testing::MakePhoto({.width = 300, .height = 200});
  const std::string id = AddRendition(store_, blobs_, bytes);
  auto res = client_->Get("/images/" + id + "/thumb");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  EXPECT_EQ(res->body, bytes);
  EXPECT_EQ(res->get_header_value("Content-Type"), "image/jpeg");
  const std::string etag = res->get_header_value("ETag");
  EXPECT_FALSE(etag.empty());
  EXPECT_NE(res->get_header_value("Cache-Control").find("immutable"), std::string::npos);
  auto again = client_->Get("/images/" + id + "/thumb", {{"If-None-Match", etag}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 304);
  auto part = client_->Get("/images/" + id + "/thumb", {{"Range", "bytes=10-19"}});
  ASSERT_TRUE(part);
  EXPECT_EQ(part->status, 206);
  EXPECT_EQ(part->body, bytes.substr(10, 10));
  EXPECT_EQ(client_->Get("/images/" + id + "/medium")->status, 404);
}

TEST_F(ApiS3Test, PresignTtlRedirectsToAUrlThatServesTheBytes) {
  Start(/*presign_ttl_s=*/300);
  const std::string bytes = image::testing::MakePhoto({.width = 300, .height = 200});
  const std::string id = AddRendition(store_, blobs_, bytes);
  auto res = client_->Get("/images/" + id + "/thumb");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 302) << res->body;
  const std::string location = res->get_header_value("Location");
  ASSERT_EQ(location.rfind(TestS3().endpoint + "/", 0), 0u) << location;
  EXPECT_NE(location.find("X-Amz-Signature="), std::string::npos);
  httplib::Client s3("127.0.0.1", std::stoi(PHOTO_TEST_S3_PORT));
  s3.set_url_encode(false);  // the URL is signed exactly as it is
  auto got = s3.Get(location.substr(TestS3().endpoint.size()));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 200) << got->body;
  EXPECT_EQ(got->body, bytes);
}

}  // namespace
}  // namespace photo::http
