// GET /images/{id}/similar and POST /search/similar over loopback: a real
// server, a memory store holding records whose hashes come from real photos
// (Debian's python3-skimage), an uploaded copy hashed like the detect stage.
#include <gtest/gtest.h>
#include <httplib.h>
#include <vips/vips8>

#include <filesystem>
#include <set>
#include <nlohmann/json.hpp>
#include <string>

#include "photo/broker/publisher.h"
#include "photo/core/files.h"
#include "photo/core/ids.h"
#include "photo/detect/checks.h"
#include "photo/detect/image_io.h"
#include "photo/http/api_server.h"
#include "photo/image/vips.h"
#include "photo/store/memory_store.h"

namespace photo::http {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
const fs::path kSkimage = "/usr/lib/python3/dist-packages/skimage/data";

std::string Bytes(const char* name) {
  auto b = ReadFile(kSkimage / name);
  EXPECT_TRUE(b.ok()) << name << " (install python3-skimage: scripts/setup.sh)";
  return b.ok() ? *b : std::string();
}

// A smaller, recompressed copy: what a re-upload of the same photo looks like.
std::string SmallJpegCopy(const std::string& bytes) {
  image::InitVips();
  void* buf = nullptr;
  size_t len = 0;
  vips::VImage::new_from_buffer(bytes, "")
      .thumbnail_image(300)
      .write_to_buffer(".jpg", &buf, &len, vips::VImage::option()->set("Q", 60));
  std::string out(static_cast<char*>(buf), len);
  g_free(buf);
  return out;
}

std::uint64_t HashOf(const std::string& bytes) {
  auto px = detect::DecodeBgrBuffer(bytes, 1280);
  EXPECT_TRUE(px.ok());
  auto h = detect::PerceptualHash(*px);
  EXPECT_TRUE(h.ok());
  return *h;
}

class SimilarRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = fs::temp_directory_path() / ("photo-similar-test-" + NewImageId());
    config_.host = "127.0.0.1";
    config_.port = 0;
    config_.data_dir = data_dir_;
    config_.threads = 2;
    config_.access_log = false;
    astronaut_ = Bytes("astronaut.png");
    copy_ = SmallJpegCopy(astronaut_);
    original_ = Add(HashOf(astronaut_));
    copy_id_ = Add(HashOf(copy_));
    other_ = Add(HashOf(Bytes("coffee.png")));
    pending_ = Add(0, /*analysed=*/false);
    server_ = std::make_unique<ApiServer>(
        config_, ApiDeps{.store = &store_, .publisher = &publisher_, .metrics = nullptr, .probe = {}});
    Status s = server_->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  void TearDown() override {
    server_.reset();
    std::error_code ec;
    fs::remove_all(data_dir_, ec);
  }

  std::string Add(std::uint64_t phash, bool analysed = true) {
    std::string id = NewImageId();
    store::ImageRecord r = store::NewRecord(id, "p.jpg", NowUnixMillis());
    if (analysed) {
      image::Detections d;
      d.phash = phash;
      d.checks_ran = {"faces", "phash"};
      r.detections = d;
      r.status = "completed";
    }
    EXPECT_TRUE(store_.Create(r).ok());
    return id;
  }

  httplib::Client Client() {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(20, 0);
    return c;
  }

  static std::string Code(const httplib::Result& r) {
    json j = json::parse(r->body, nullptr, false);
    return j.is_discarded() ? "<" + r->body + ">" : j["error"].value("code", "");
  }

  fs::path data_dir_;
  ApiConfig config_;
  store::MemoryStatusStore store_;
  broker::FakePublisher publisher_;
  std::unique_ptr<ApiServer> server_;
  std::string astronaut_, copy_, original_, copy_id_, other_, pending_;
};

TEST_F(SimilarRoutesTest, ListsTheNearDuplicateAndNotTheOtherPhoto) {
  auto r = Client().Get("/images/" + original_ + "/similar");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  json j = json::parse(r->body);
  EXPECT_EQ(j["max_distance"], 10);
  ASSERT_EQ(j["similar"].size(), 1u) << r->body;
  EXPECT_EQ(j["similar"][0]["id"], copy_id_);
  EXPECT_LE(j["similar"][0]["distance"].get<int>(), 10);
  EXPECT_EQ(j["similar"][0]["status_url"], "/status/" + copy_id_);

  // The widest radius allowed, nearest first, never the image itself.
  r = Client().Get("/images/" + original_ + "/similar?max_distance=32&limit=100");
  ASSERT_EQ(r->status, 200) << r->body;
  j = json::parse(r->body);
  ASSERT_GE(j["similar"].size(), 1u);
  EXPECT_EQ(j["similar"][0]["id"], copy_id_);
  for (size_t i = 1; i < j["similar"].size(); ++i) {
    EXPECT_GE(j["similar"][i]["distance"], j["similar"][i - 1]["distance"]);
    EXPECT_NE(j["similar"][i]["id"], original_);
  }
}

TEST_F(SimilarRoutesTest, AnUploadedFileGetsTheSameAnswerAndIsStoredNowhere) {
  httplib::MultipartFormDataItems items = {{"file", copy_, "copy.jpg", "image/jpeg"}};
  auto r = Client().Post("/search/similar", items);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json j = json::parse(r->body);
  ASSERT_EQ(j["similar"].size(), 2u) << r->body;  // the original and the stored copy
  EXPECT_EQ(j["similar"][0]["distance"], 0);      // the stored copy has the same bytes
  EXPECT_LE(j["similar"][0]["distance"], j["similar"][1]["distance"]);
  const std::set<std::string> ids = {j["similar"][0]["id"], j["similar"][1]["id"]};
  EXPECT_EQ(ids, (std::set<std::string>{copy_id_, original_}));
  // Nothing was kept: no new record, no file, no job.
  EXPECT_EQ(store_.CountByStatus()->at("completed"), 3);
  EXPECT_TRUE(publisher_.published().empty());
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(data_dir_, ec); it != fs::end(it); it.increment(ec)) {
    EXPECT_FALSE(it->is_regular_file()) << it->path();
  }
}

TEST_F(SimilarRoutesTest, TypedErrors) {
  auto c = Client();
  auto r = c.Get("/images/" + NewImageId() + "/similar");
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(Code(r), "not_found");
  r = c.Get("/images/" + pending_ + "/similar");
  EXPECT_EQ(r->status, 409);
  EXPECT_EQ(Code(r), "not_analysed");
  for (const char* q : {"max_distance=65", "max_distance=-1", "max_distance=x", "max_distance=33"}) {
    r = c.Get("/images/" + original_ + "/similar?" + q);
    EXPECT_EQ(r->status, 400) << q;
    EXPECT_EQ(Code(r), "bad_max_distance") << q;
  }
  r = c.Get("/images/" + original_ + "/similar?limit=0");
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(Code(r), "bad_limit");

  r = c.Post("/search/similar", httplib::MultipartFormDataItems{{"file", "just text", "a.png", "image/png"}});
  EXPECT_EQ(r->status, 415) << r->body;
  EXPECT_EQ(Code(r), "unsupported_media_type");
  r = c.Post("/search/similar", httplib::MultipartFormDataItems{{"note", "x", "", ""}});
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(Code(r), "missing_file");
  r = c.Post("/search/similar?max_distance=99",
             httplib::MultipartFormDataItems{{"file", copy_, "c.jpg", "image/jpeg"}});
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(Code(r), "bad_max_distance");
}

}  // namespace
}  // namespace photo::http
