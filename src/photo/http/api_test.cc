// ApiServer end to end over loopback: a real server on 127.0.0.1 (any port),
// a memory store, a fake publisher, a temp data dir, images made by libvips.
#include "photo/http/api_server.h"

#include <gtest/gtest.h>
#include <httplib.h>

#include <condition_variable>
#include <filesystem>
#include <fstream>
#include <future>
#include <mutex>
#include <set>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "photo/broker/messages.h"
#include "photo/core/files.h"
#include "photo/core/ids.h"
#include "photo/http/openapi.h"
#include "photo/signing/url_signer.h"
#include "photo/image/testing/synth.h"
#include "photo/store/memory_store.h"

namespace photo::http {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;
namespace synth = photo::image::testing;

// A memory store that can be told to fail.
class FlakyStore : public store::StatusStore {
 public:
  Status Create(const store::ImageRecord& r) override {
    if (!fail_create_.ok()) return fail_create_;
    Status s = mem_.Create(r);
    if (s.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      ids_.insert(r.id);
    }
    return s;
  }
  Result<store::ImageRecord> Get(std::string_view id) override {
    if (!fail_get_.ok()) return fail_get_;
    return mem_.Get(id);
  }
  Result<store::ImageRecord> Update(std::string_view id,
                                    const std::function<Status(store::ImageRecord&)>& f) override {
    return mem_.Update(id, f);
  }
  Status Delete(std::string_view id) override { return mem_.Delete(id); }
  Result<std::map<std::string, std::int64_t>> CountByStatus() override { return mem_.CountByStatus(); }
  Status Ping() override { return fail_ping_; }

  // Records that exist now (created and not deleted).
  std::int64_t Total() {
    std::set<std::string> ids;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ids = ids_;
    }
    std::int64_t n = 0;
    for (const std::string& id : ids) n += mem_.Get(id).ok() ? 1 : 0;
    return n;
  }

  Status fail_create_;
  Status fail_get_;
  Status fail_ping_;

 private:
  store::MemoryStatusStore mem_;
  std::mutex mu_;
  std::set<std::string> ids_;
};

// Blocks inside Publish until released: an upload that is in flight.
class GatePublisher : public broker::FakePublisher {
 public:
  Status Publish(const broker::OutgoingMessage& m) override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      entered_ = true;
      cv_.notify_all();
      cv_.wait(lock, [this] { return open_; });
    }
    return FakePublisher::Publish(m);
  }
  void WaitEntered() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return entered_; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool entered_ = false;
  bool open_ = false;
};

std::vector<fs::path> RegularFilesUnder(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); it != fs::recursive_directory_iterator();
       it.increment(ec)) {
    if (it->is_regular_file()) out.push_back(it->path());
  }
  return out;
}

// cpp-httplib counts a request (its logger) after the response is on the
// wire, so a client can be faster than the count: poll briefly.
bool Eventually(const std::function<bool()>& pred) {
  for (int i = 0; i < 200; ++i) {
    if (pred()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return pred();
}

std::string ErrorCode(const httplib::Result& r) {
  json j = json::parse(r->body, nullptr, false);
  if (j.is_discarded() || !j.contains("error")) return "<not an error body: " + r->body + ">";
  return j["error"].value("code", "");
}

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_dir_ = fs::temp_directory_path() / ("photo-api-test-" + NewImageId());
    config_.host = "127.0.0.1";
    config_.port = 0;
    config_.data_dir = data_dir_;
    config_.threads = 4;
    config_.access_log = false;
    config_.limits.max_bytes = 256 * 1024;
    config_.multipart_overhead = 16 * 1024;
    config_.retry_after_s = 7;
    jpeg_ = synth::MakePhoto({.width = 64, .height = 48});
  }
  void TearDown() override {
    server_.reset();
    std::error_code ec;
    fs::remove_all(data_dir_, ec);
  }

  void Start(broker::Publisher* publisher = nullptr) {
    server_ = std::make_unique<ApiServer>(
        config_, ApiDeps{.store = &store_, .publisher = publisher ? publisher : &publisher_, .metrics = nullptr, .probe = {}});
    Status s = server_->Start();
    ASSERT_TRUE(s.ok()) << s.ToString();
    ASSERT_GT(server_->port(), 0);
  }

  httplib::Client Client() {
    httplib::Client c("127.0.0.1", server_->port());
    c.set_read_timeout(10, 0);
    return c;
  }

  httplib::Result Upload(const std::string& bytes, const std::string& filename = "photo.jpeg",
                         const std::string& path = "/upload/", const httplib::Headers& headers = {}) {
    httplib::MultipartFormDataItems items = {{"file", bytes, filename, "image/jpeg"}};
    return Client().Post(path, headers, items);
  }

  // Nothing of a refused upload may remain: no original, no temp file, no
  // record, no job.
  void ExpectNothingKept() {
    EXPECT_TRUE(RegularFilesUnder(data_dir_ / "images").empty());
    EXPECT_TRUE(RegularFilesUnder(data_dir_ / "tmp").empty());
    EXPECT_EQ(store_.Total(), 0);
    EXPECT_TRUE(publisher_.published().empty());
  }

  fs::path data_dir_;
  ApiConfig config_;
  FlakyStore store_;
  broker::FakePublisher publisher_;
  std::unique_ptr<ApiServer> server_;
  std::string jpeg_;
};

TEST_F(ApiTest, UploadStoresRecordsAndQueuesTheJob) {
  Start();
  auto r = Upload(jpeg_, "beach.jpeg");
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  ASSERT_EQ(r->status, 202) << r->body;
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  json body = json::parse(r->body);
  const std::string id = body["id"];
  EXPECT_TRUE(IsValidImageId(id));
  EXPECT_EQ(body["filename"], "beach.jpeg");
  EXPECT_EQ(body["status"], "uploaded");
  EXPECT_EQ(body["status_url"], "/status/" + id);
  EXPECT_EQ(body.size(), 4u);
  EXPECT_EQ(r->get_header_value("Location"), "/status/" + id);

  pipeline::Layout layout(data_dir_);
  auto stored = ReadFile(layout.Original(id));
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(*stored, jpeg_);
  EXPECT_TRUE(RegularFilesUnder(data_dir_ / "tmp").empty());

  auto rec = store_.Get(id);
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(rec->status, "uploaded");
  EXPECT_EQ(rec->filename, "beach.jpeg");
  EXPECT_EQ(rec->source_format, "jpeg");
  EXPECT_EQ(rec->width, 64);
  EXPECT_EQ(rec->height, 48);
  EXPECT_EQ(rec->bytes, jpeg_.size());
  const std::string rel = "images/" + id.substr(0, 2) + "/" + id + "/original";
  EXPECT_EQ(rec->original_path, rel);

  auto published = publisher_.published();
  ASSERT_EQ(published.size(), 1u);
  EXPECT_EQ(published[0].exchange, "");
  EXPECT_EQ(published[0].routing_key, "resize");
  auto job = broker::ParseJob(published[0].body);
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->id, id);
  EXPECT_EQ(job->filename, "beach.jpeg");
  EXPECT_EQ(job->path, rel);
  EXPECT_EQ(job->stage, "resize");
}

TEST_F(ApiTest, UploadWithoutTrailingSlashWorksToo) {
  Start();
  auto r = Upload(jpeg_, "a.jpg", "/upload");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202) << r->body;
  EXPECT_EQ(publisher_.published().size(), 1u);
}

TEST_F(ApiTest, OtherFormFieldsAreIgnored) {
  Start();
  httplib::MultipartFormDataItems items = {
      {"note", "hello", "", ""}, {"file", jpeg_, "x.jpg", "image/jpeg"}, {"tag", "t", "", ""}};
  auto r = Client().Post("/upload/", items);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202) << r->body;
}

TEST_F(ApiTest, StatusOfKnownUnknownAndInvalidIds) {
  Start();
  auto up = Upload(jpeg_);
  ASSERT_EQ(up->status, 202);
  const std::string id = json::parse(up->body)["id"];

  auto r = Client().Get("/status/" + id);
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  json rec = json::parse(r->body);
  EXPECT_EQ(rec["id"], id);
  EXPECT_EQ(rec["status"], "uploaded");
  EXPECT_EQ(rec["filename"], "photo.jpeg");
  EXPECT_TRUE(rec["stages"].contains("resize"));
  EXPECT_EQ(rec["renditions"]["original"]["url"], "/images/" + id + "/original");
  EXPECT_EQ(r->get_header_value("Cache-Control"), "no-store");

  for (const std::string& path : {"/status/" + NewImageId(), std::string("/status/../x"),
                                 std::string("/status/..%2F..%2Fetc%2Fpasswd"),
                                 std::string("/status/not-an-id"), std::string("/status/" + id + "/x")}) {
    auto nf = Client().Get(path);
    ASSERT_TRUE(nf) << path;
    EXPECT_EQ(nf->status, 404) << path;
    EXPECT_EQ(ErrorCode(nf), "not_found") << path;
  }
}

TEST_F(ApiTest, StatusAnswers503WhenTheStoreIsDown) {
  Start();
  store_.fail_get_ = UnavailableError("db_down", "connection refused");
  auto r = Client().Get("/status/" + NewImageId());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_EQ(ErrorCode(r), "store_unavailable");
  EXPECT_EQ(r->get_header_value("Retry-After"), "7");
  EXPECT_EQ(r->body.find("connection refused"), std::string::npos) << "internals leaked: " << r->body;
}

TEST_F(ApiTest, ACorruptRecordIs500NotARetry) {
  Start();
  store_.fail_get_ = InternalError("corrupt_record", "stored record is not a JSON object");
  auto r = Client().Get("/status/" + NewImageId());
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(ErrorCode(r), "internal");
  EXPECT_FALSE(r->has_header("Retry-After"));
  EXPECT_EQ(r->body.find("JSON object"), std::string::npos) << "internals leaked: " << r->body;
}

TEST_F(ApiTest, HandlerExceptionsBecomeJson500) {
  // A probe that throws stands in for any bug below the handlers.
  server_ = std::make_unique<ApiServer>(
      config_, ApiDeps{.store = &store_,
                       .publisher = &publisher_,
                       .metrics = nullptr,
                       .probe = [](const fs::path&, const image::Limits&) -> Result<image::ProbeInfo> {
                         throw std::runtime_error("boom");
                       }});
  ASSERT_TRUE(server_->Start().ok());
  auto r = Upload(jpeg_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 500);
  EXPECT_EQ(ErrorCode(r), "internal");
  EXPECT_EQ(r->body.find("boom"), std::string::npos);
  EXPECT_TRUE(RegularFilesUnder(data_dir_ / "tmp").empty());  // RAII removed the temp file
  EXPECT_EQ(Client().Get("/healthz")->status, 200);
}

TEST_F(ApiTest, NonImagesAre415AndNothingIsKept) {
  Start();
  for (const std::string& bytes : {synth::TextBytes(), synth::SvgBytes(), synth::PdfBytes()}) {
    // A lying filename and Content-Type change nothing: the bytes decide.
    auto r = Upload(bytes, "innocent.jpg");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 415) << r->body;
    EXPECT_EQ(ErrorCode(r), "unsupported_media_type");
  }
  auto r = Upload(synth::TruncatedJpeg());
  EXPECT_EQ(r->status, 415) << r->body;
  EXPECT_EQ(ErrorCode(r), "corrupt_image");
  ExpectNothingKept();
}

TEST_F(ApiTest, EmptyHugeAndAnimatedFilesAreRefused) {
  config_.limits.max_frames = 2;
  Start();
  auto empty = Upload("");
  EXPECT_EQ(empty->status, 400) << empty->body;
  EXPECT_EQ(ErrorCode(empty), "empty_file");
  auto bomb = Upload(synth::PngHeaderOnly(100000, 100000), "bomb.png");
  EXPECT_EQ(bomb->status, 413) << bomb->body;
  EXPECT_EQ(ErrorCode(bomb), "too_many_pixels");
  auto gif = Upload(synth::MakeAnimatedGif(16, 16, 3), "a.gif");
  EXPECT_EQ(gif->status, 413) << gif->body;
  EXPECT_EQ(ErrorCode(gif), "too_many_frames");
  ExpectNothingKept();
}

TEST_F(ApiTest, BrokerRefusalIs503AndRollsBack) {
  Start();
  publisher_.FailWith(UnavailableError("broker_nack", "nacked"));
  auto r = Upload(jpeg_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_EQ(ErrorCode(r), "broker_unavailable");
  EXPECT_EQ(r->get_header_value("Retry-After"), "7");
  ExpectNothingKept();
  // No id directory survives either.
  for (const auto& e : fs::recursive_directory_iterator(data_dir_ / "images")) {
    EXPECT_FALSE(IsValidImageId(e.path().filename().string())) << e.path();
  }
}

TEST_F(ApiTest, StoreRefusalIs503AndRollsBack) {
  Start();
  store_.fail_create_ = UnavailableError("db_down", "connection refused");
  auto r = Upload(jpeg_);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_EQ(ErrorCode(r), "store_unavailable");
  EXPECT_EQ(r->get_header_value("Retry-After"), "7");
  ExpectNothingKept();
}

TEST_F(ApiTest, MissingFileFieldIs400) {
  Start();
  httplib::MultipartFormDataItems items = {{"image", jpeg_, "a.jpg", "image/jpeg"}};
  auto r = Client().Post("/upload/", items);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(ErrorCode(r), "missing_file");
  ExpectNothingKept();
}

TEST_F(ApiTest, TwoFilePartsAre400) {
  Start();
  httplib::MultipartFormDataItems items = {{"file", jpeg_, "a.jpg", "image/jpeg"},
                                           {"file", jpeg_, "b.jpg", "image/jpeg"}};
  auto r = Client().Post("/upload/", items);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400);
  EXPECT_EQ(ErrorCode(r), "too_many_files");
  ExpectNothingKept();
}

TEST_F(ApiTest, MalformedBodiesAre400) {
  Start();
  struct Case {
    const char* content_type;
    std::string body;
  };
  const std::vector<Case> cases = {
      {"multipart/form-data", "--x\r\nContent-Disposition: form-data; name=\"file\"\r\n\r\nabc\r\n--x--\r\n"},
      {"multipart/form-data; boundary=abc", "this is not multipart at all"},
      {"multipart/form-data; boundary=abc",
       "--abc\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nunterminated"},
      {"application/octet-stream", jpeg_},
      {"image/jpeg", jpeg_},
  };
  for (const Case& c : cases) {
    auto r = Client().Post("/upload/", c.body, c.content_type);
    ASSERT_TRUE(r) << c.content_type;
    EXPECT_EQ(r->status, 400) << c.content_type << ": " << r->body;
    EXPECT_EQ(ErrorCode(r), "malformed_multipart") << c.content_type;
  }
  ExpectNothingKept();
}

TEST_F(ApiTest, BodyOverTheLimitIs413) {
  Start();
  std::string big(config_.limits.max_bytes + config_.multipart_overhead + 1, 'x');
  auto r = Upload(big);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413) << r->body;
  EXPECT_EQ(ErrorCode(r), "too_large");
  ExpectNothingKept();
}

TEST_F(ApiTest, StreamedFileOverTheLimitIsCutAnd413) {
  Start();
  // Chunked transfer: no Content-Length to check up front, so the limit is
  // enforced while streaming and the partial temp file must go.
  const size_t total = config_.limits.max_bytes + 1;
  httplib::MultipartFormDataProviderItems providers = {
      {"file",
       [total](size_t offset, httplib::DataSink& sink) {
         std::string chunk(std::min<size_t>(8192, total - offset), 'y');
         if (!chunk.empty()) sink.write(chunk.data(), chunk.size());
         if (offset + chunk.size() >= total) sink.done();
         return true;
       },
       "big.jpg", "image/jpeg"}};
  auto r = Client().Post("/upload/", {}, {}, providers);
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 413) << r->body;
  EXPECT_EQ(ErrorCode(r), "too_large");
  ExpectNothingKept();
}

TEST_F(ApiTest, EndlessChunkedBodyIsCutAndTheConnectionClosed) {
  Start();
  // Past the whole body limit the server stops reading: 413 and
  // "Connection: close", since the rest of the body is still on the wire.
  const size_t total = config_.max_body_bytes() * 4;
  httplib::MultipartFormDataProviderItems providers = {
      {"file",
       [total](size_t offset, httplib::DataSink& sink) {
         std::string chunk(std::min<size_t>(8192, total - offset), 'y');
         if (!chunk.empty()) sink.write(chunk.data(), chunk.size());
         if (offset + chunk.size() >= total) sink.done();
         return true;
       },
       "big.jpg", "image/jpeg"}};
  httplib::Client c("127.0.0.1", server_->port());
  c.set_keep_alive(true);
  auto r = c.Post("/upload/", {}, {}, providers);
  if (r) {  // the client may also see the reset of the unread rest first
    EXPECT_EQ(r->status, 413) << r->body;
    EXPECT_EQ(ErrorCode(r), "too_large");
    EXPECT_EQ(r->get_header_value("Connection"), "close");
  }
  ExpectNothingKept();
  EXPECT_EQ(Client().Get("/healthz")->status, 200);
}

TEST_F(ApiTest, RefusedUploadsLeaveTheConnectionUsable) {
  config_.api_token = "tok";
  Start();
  // One keep-alive connection through every refusal: each answer must belong
  // to its own request (a body left unread would be parsed as the next one).
  httplib::Client c("127.0.0.1", server_->port());
  c.set_keep_alive(true);
  c.set_read_timeout(10, 0);
  const httplib::Headers auth = {{"Authorization", "Bearer tok"}};
  const std::string big(config_.limits.max_bytes + 1000, 'z');
  struct Step {
    httplib::MultipartFormDataItems items;
    httplib::Headers headers;
    int status;
    const char* code;
  };
  const std::vector<Step> steps = {
      {{{"file", jpeg_, "a.jpg", ""}}, {}, 401, "unauthorized"},
      {{{"file", jpeg_, "a.jpg", ""}, {"file", jpeg_, "b.jpg", ""}}, auth, 400, "too_many_files"},
      {{{"file", jpeg_, "a.jpg", ""}}, auth, 202, ""},
      {{{"file", big, "big.jpg", ""}}, auth, 413, "too_large"},
      {{{"file", synth::TextBytes(), "t.jpg", ""}}, auth, 415, "unsupported_media_type"},
      {{{"other", jpeg_, "a.jpg", ""}}, auth, 400, "missing_file"},
      {{{"file", jpeg_, "a.jpg", ""}}, auth, 202, ""},
  };
  for (size_t i = 0; i < steps.size(); ++i) {
    auto r = c.Post("/upload/", steps[i].headers, steps[i].items);
    ASSERT_TRUE(r) << "step " << i << ": " << httplib::to_string(r.error());
    EXPECT_EQ(r->status, steps[i].status) << "step " << i << ": " << r->body;
    if (steps[i].status != 202) {
      EXPECT_EQ(ErrorCode(r), steps[i].code) << "step " << i;
    }
    EXPECT_NE(r->get_header_value("Connection"), "close") << "step " << i;
  }
  auto raw = c.Post("/upload/", auth, jpeg_, "image/jpeg");
  ASSERT_TRUE(raw);
  EXPECT_EQ(raw->status, 400);
  auto health = c.Get("/healthz");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(publisher_.published().size(), 2u);
  EXPECT_TRUE(RegularFilesUnder(data_dir_ / "tmp").empty());
}

TEST_F(ApiTest, FileAtTheLimitIsAccepted) {
  Start();
  // Padding after EOI keeps it a valid JPEG of exactly max_bytes.
  std::string exact = jpeg_ + std::string(config_.limits.max_bytes - jpeg_.size(), '\0');
  auto r = Upload(exact);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 202) << r->body;
}

TEST_F(ApiTest, BothProbePathsGiveTheSameAnswer) {
  // Up to 1 MiB the probe reads the file into a buffer, above it maps it:
  // the same photo padded past the threshold must probe the same.
  config_.limits.max_bytes = 8u << 20;
  Start();
  for (std::size_t pad : {std::size_t{0}, std::size_t{3} << 20}) {
    SCOPED_TRACE(pad);
    const std::string bytes = jpeg_ + std::string(pad, '\0');
    auto r = Upload(bytes);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 202) << r->body;
    auto rec = store_.Get(json::parse(r->body)["id"].get<std::string>());
    ASSERT_TRUE(rec.ok());
    EXPECT_EQ(rec->source_format, "jpeg");
    EXPECT_EQ(rec->width, 64);
    EXPECT_EQ(rec->bytes, bytes.size());
  }
}

TEST_F(ApiTest, HostileFilenamesAreJustData) {
  Start();
  const std::vector<std::pair<std::string, std::string>> names = {
      {"../../../../etc/passwd", "passwd"},
      {"..\\..\\windows\\win.ini", "win.ini"},
      {"a\x01\x1f\x7f" "b.jpg", "ab.jpg"},
      {"<script>x</script>.jpg", "scriptx"},  // basename after the '/' in </script>
      {"", "upload"},
  };
  pipeline::Layout layout(data_dir_);
  for (const auto& [raw, expected] : names) {
    auto r = Upload(jpeg_, raw);
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 202) << raw << ": " << r->body;
    json body = json::parse(r->body);
    const std::string id = body["id"];
    EXPECT_EQ(body["filename"], SanitizeFilename(raw)) << raw;
    if (expected != "scriptx") {
      EXPECT_EQ(body["filename"], expected) << raw;
    }
    EXPECT_TRUE(fs::exists(layout.Original(id))) << raw;
    EXPECT_EQ(broker::ParseJob(publisher_.published().back().body)->filename, body["filename"]);
  }
  // Only originals under images/<xx>/<id>/, nothing anywhere else.
  for (const auto& f : RegularFilesUnder(data_dir_)) {
    EXPECT_EQ(f.filename(), "original") << f;
    EXPECT_TRUE(IsValidImageId(f.parent_path().filename().string())) << f;
  }
}

TEST_F(ApiTest, RenditionsAreServedWithCacheHeaders) {
  config_.originals_public = true;  // the old behaviour, checked here; privacy below
  Start();
  auto up = Upload(jpeg_);
  ASSERT_EQ(up->status, 202);
  const std::string id = json::parse(up->body)["id"];
  pipeline::Layout layout(data_dir_);

  // What the resize + watermark stages would leave behind.
  const std::string thumb = synth::MakePhoto({.width = 32, .height = 24, .format = synth::SynthFormat::kWebp});
  const fs::path thumb_path = layout.ImageDir(id) / "thumb.webp";
  const fs::path clean_path = layout.ImageDir(id) / "clean" / "medium.jpg";
  ASSERT_TRUE(WriteFileAtomic(thumb_path, thumb).ok());
  ASSERT_TRUE(WriteFileAtomic(clean_path, jpeg_).ok());
  auto updated = store_.Update(id, [&](store::ImageRecord& rec) {
    rec.renditions.push_back({.name = "thumb",
                              .path = thumb_path.lexically_relative(data_dir_).string(),
                              .width = 32,
                              .height = 24,
                              .bytes = thumb.size(),
                              .format = image::OutputFormat::kWebp});
    rec.renditions.push_back({.name = "medium",
                              .path = clean_path.lexically_relative(data_dir_).string(),
                              .width = 64,
                              .height = 48,
                              .bytes = jpeg_.size(),
                              .format = image::OutputFormat::kJpeg});
    return Status::Ok();
  });
  ASSERT_TRUE(updated.ok());

  auto r = Client().Get("/images/" + id + "/thumb");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(r->body, thumb);
  EXPECT_EQ(r->get_header_value("Content-Type"), "image/webp");
  EXPECT_EQ(r->get_header_value("Cache-Control"), "public, max-age=31536000, immutable");
  EXPECT_EQ(r->get_header_value("X-Content-Type-Options"), "nosniff");
  const std::string etag = r->get_header_value("ETag");
  ASSERT_GE(etag.size(), 3u);
  EXPECT_EQ(etag.front(), '"');
  EXPECT_EQ(etag.back(), '"');

  auto again = Client().Get("/images/" + id + "/thumb", {{"If-None-Match", etag}});
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 304);
  EXPECT_TRUE(again->body.empty());
  EXPECT_EQ(again->get_header_value("ETag"), etag);
  auto listed = Client().Get("/images/" + id + "/thumb", {{"If-None-Match", "\"zzz\", W/" + etag}});
  EXPECT_EQ(listed->status, 304);
  auto other = Client().Get("/images/" + id + "/thumb", {{"If-None-Match", "\"zzz\""}});
  EXPECT_EQ(other->status, 200);

  auto original = Client().Get("/images/" + id + "/original");
  ASSERT_TRUE(original);
  EXPECT_EQ(original->status, 200);
  EXPECT_EQ(original->body, jpeg_);
  EXPECT_EQ(original->get_header_value("Content-Type"), "image/jpeg");
  EXPECT_NE(original->get_header_value("ETag"), etag);

  // Not watermarked yet: not published.
  auto medium = Client().Get("/images/" + id + "/medium");
  EXPECT_EQ(medium->status, 404);
  EXPECT_EQ(ErrorCode(medium), "not_found");
  for (const std::string& path : {"/images/" + id + "/large", "/images/" + NewImageId() + "/thumb",
                                 std::string("/images/x/original"), "/images/" + id + "/..",
                                 "/images/" + id + "/THUMB"}) {
    auto nf = Client().Get(path);
    ASSERT_TRUE(nf) << path;
    EXPECT_EQ(nf->status, 404) << path;
    EXPECT_EQ(ErrorCode(nf), "not_found") << path;
  }
}

TEST_F(ApiTest, RangeRequestsAreHonoured) {
  config_.originals_public = true;
  Start();
  auto up = Upload(jpeg_);
  const std::string id = json::parse(up->body)["id"];
  auto r = Client().Get("/images/" + id + "/original", {{"Range", "bytes=0-9"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 206);
  EXPECT_EQ(r->body, jpeg_.substr(0, 10));
}

TEST_F(ApiTest, TokenGuardsUploadsOnly) {
  config_.api_token = "s3cret-token";
  Start();
  auto none = Upload(jpeg_);
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(ErrorCode(none), "unauthorized");
  EXPECT_NE(none->get_header_value("WWW-Authenticate").find("Bearer"), std::string::npos);
  auto wrong = Upload(jpeg_, "a.jpg", "/upload/", {{"Authorization", "Bearer s3cret-tokeN"}});
  EXPECT_EQ(wrong->status, 401);
  auto basic = Upload(jpeg_, "a.jpg", "/upload/", {{"Authorization", "Basic s3cret-token"}});
  EXPECT_EQ(basic->status, 401);
  ExpectNothingKept();

  auto ok = Upload(jpeg_, "a.jpg", "/upload/", {{"Authorization", "Bearer s3cret-token"}});
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->status, 202) << ok->body;
  const std::string id = json::parse(ok->body)["id"];
  EXPECT_EQ(Client().Get("/status/" + id)->status, 200);  // reads stay open
}

TEST_F(ApiTest, AdminTokenDoesNotOpenUploads) {
  config_.api_token = "upload-token";
  config_.admin_token = "admin-token";
  Start();
  auto admin = Upload(jpeg_, "a.jpg", "/upload/", {{"Authorization", "Bearer admin-token"}});
  ASSERT_TRUE(admin);
  EXPECT_EQ(admin->status, 401) << admin->body;
  ExpectNothingKept();
  auto up = Upload(jpeg_, "a.jpg", "/upload/", {{"Authorization", "Bearer upload-token"}});
  ASSERT_TRUE(up);
  EXPECT_EQ(up->status, 202) << up->body;
}

TEST_F(ApiTest, RateLimitIs429WithRetryAfterButProbesPass) {
  config_.rate_per_client = 0.01;
  config_.burst_per_client = 2;
  Start();
  EXPECT_EQ(Client().Get("/status/" + NewImageId())->status, 404);
  EXPECT_EQ(Client().Get("/status/" + NewImageId())->status, 404);
  auto limited = Client().Get("/status/" + NewImageId());
  ASSERT_TRUE(limited);
  EXPECT_EQ(limited->status, 429);
  EXPECT_EQ(ErrorCode(limited), "rate_limited");
  EXPECT_GE(std::stoi(limited->get_header_value("Retry-After")), 1);
  EXPECT_EQ(Client().Get("/healthz")->status, 200);
  EXPECT_EQ(Client().Get("/metrics")->status, 200);
  EXPECT_TRUE(Eventually([&] {
    return server_->metrics().Value("photo_http_rate_limited_total", {{"scope", "address"}}) == 1;
  }));
}

TEST_F(ApiTest, OriginalsArePrivateByDefault) {
  config_.api_token = "upload-token";
  config_.admin_token = "admin-token";
  Start();
  auto up = Upload(jpeg_, "a.jpg", "/upload/", {{"Authorization", "Bearer upload-token"}});
  ASSERT_EQ(up->status, 202);
  const std::string url = "/images/" + json::parse(up->body)["id"].get<std::string>() + "/original";
  auto none = Client().Get(url);
  EXPECT_EQ(none->status, 401);
  EXPECT_EQ(ErrorCode(none), "unauthorized");
  EXPECT_NE(none->get_header_value("WWW-Authenticate").find("Bearer"), std::string::npos);
  EXPECT_EQ(Client().Get(url, {{"Authorization", "Bearer upload-token"}})->status, 403);  // the upload token is not admin
  EXPECT_EQ(Client().Get(url, {{"Authorization", "Bearer wrong"}})->status, 403);
  EXPECT_EQ(Client().Get(url + "?exp=99999999999&sig=" + std::string(64, 'a'))->status, 403);
  auto admin = Client().Get(url, {{"Authorization", "Bearer admin-token"}});
  ASSERT_EQ(admin->status, 200);
  EXPECT_EQ(admin->body, jpeg_);
  EXPECT_EQ(admin->get_header_value("Cache-Control"), "private, max-age=31536000, immutable");
  // An unknown id gets the same refusal: no probing for ids without credentials.
  EXPECT_EQ(Client().Get("/images/" + NewImageId() + "/original")->status, 401);
}

TEST_F(ApiTest, SignedRenditionUrls) {
  config_.signing.key = "current-key";
  config_.signing.previous_key = "old-key";
  config_.renditions_public = false;
  Start();
  auto up = Upload(jpeg_);
  ASSERT_EQ(up->status, 202);
  const std::string id = json::parse(up->body)["id"];
  pipeline::Layout layout(data_dir_);
  const fs::path thumb_path = layout.ImageDir(id) / "thumb.jpg";
  ASSERT_TRUE(WriteFileAtomic(thumb_path, jpeg_).ok());
  ASSERT_TRUE(store_
                  .Update(id,
                          [&](store::ImageRecord& rec) {
                            rec.renditions.push_back({.name = "thumb",
                                                      .path = thumb_path.lexically_relative(data_dir_).string(),
                                                      .width = 64,
                                                      .height = 48,
                                                      .bytes = jpeg_.size(),
                                                      .format = image::OutputFormat::kJpeg});
                            return Status::Ok();
                          })
                  .ok());
  json rec = json::parse(Client().Get("/status/" + id)->body);
  const std::string thumb = rec["renditions"]["thumb"]["url"];
  const std::string original = rec["renditions"]["original"]["url"];
  ASSERT_NE(thumb.find("?exp="), std::string::npos) << thumb;
  ASSERT_NE(thumb.find("&sig="), std::string::npos) << thumb;
  EXPECT_EQ(Client().Get(thumb)->status, 200);
  EXPECT_EQ(Client().Get(original)->status, 200);  // a signed link opens the private original too
  EXPECT_EQ(Client().Get("/images/" + id + "/thumb")->status, 401);  // unsigned, RENDITIONS_PUBLIC=0
  std::string tampered = thumb;
  tampered.back() = tampered.back() == '0' ? '1' : '0';
  EXPECT_EQ(Client().Get(tampered)->status, 403);
  EXPECT_EQ(ErrorCode(Client().Get(tampered)), "forbidden");
  const std::string canonical = "/images/" + id + "/thumb";
  UrlSigner old_key("old-key", "", 60);
  EXPECT_EQ(Client().Get(old_key.Sign(canonical, NowUnixMillis() / 1000))->status, 200);  // rotated key
  UrlSigner expired("current-key", "", 1);
  auto gone = Client().Get(expired.Sign(canonical, NowUnixMillis() / 1000 - 3600));
  EXPECT_EQ(gone->status, 403);
  EXPECT_EQ(ErrorCode(gone), "link_expired");
  UrlSigner stranger("some-other-key", "", 60);
  EXPECT_EQ(Client().Get(stranger.Sign(canonical, NowUnixMillis() / 1000))->status, 403);
}

TEST_F(ApiTest, DeleteErasesFilesAndRecordAndAnnouncesIt) {
  config_.admin_token = "admin-token";
  config_.api_token = "upload-token";
  Start();
  auto up = Upload(jpeg_, "gone.jpg", "/upload/", {{"Authorization", "Bearer upload-token"}});
  ASSERT_EQ(up->status, 202);
  const std::string id = json::parse(up->body)["id"];
  pipeline::Layout layout(data_dir_);
  ASSERT_TRUE(WriteFileAtomic(layout.ImageDir(id) / "thumb.jpg", jpeg_).ok());
  const std::string path = "/images/" + id;

  EXPECT_EQ(Client().Delete(path)->status, 401);
  EXPECT_EQ(Client().Delete(path, {{"Authorization", "Bearer upload-token"}})->status, 403);
  EXPECT_TRUE(fs::exists(layout.Original(id)));

  const httplib::Headers admin = {{"Authorization", "Bearer admin-token"}};
  auto del = Client().Delete(path, admin);
  ASSERT_TRUE(del);
  EXPECT_EQ(del->status, 204) << del->body;
  EXPECT_FALSE(fs::exists(layout.ImageDir(id)));
  EXPECT_EQ(Client().Get("/status/" + id)->status, 404);
  auto published = publisher_.published();
  ASSERT_EQ(published.size(), 2u);  // the resize job, then the event
  EXPECT_EQ(published[1].exchange, "processed_images");
  json event = json::parse(published[1].body);
  EXPECT_EQ(event["status"], "deleted");
  EXPECT_EQ(event["id"], id);
  EXPECT_EQ(event["event_id"], id + ":deleted");
  EXPECT_EQ(event["filename"], "gone.jpg");

  // Idempotent: nothing left, 204 again, the same event again.
  EXPECT_EQ(Client().Delete(path, admin)->status, 204);
  EXPECT_EQ(json::parse(publisher_.published().back().body)["event_id"], id + ":deleted");
  EXPECT_EQ(Client().Delete("/images/not-an-id", admin)->status, 404);
}

TEST_F(ApiTest, AdminRoutesAreClosedWithoutAnAdminToken) {
  Start();
  auto r = Client().Delete("/images/" + NewImageId(), {{"Authorization", "Bearer anything"}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(ErrorCode(r), "forbidden");
}

TEST_F(ApiTest, NoTokenConfiguredMeansNoAuth) {
  Start();
  auto r = Upload(jpeg_, "a.jpg", "/upload/", {{"Authorization", "Bearer whatever"}});
  EXPECT_EQ(r->status, 202);
}

TEST_F(ApiTest, HealthAndReadiness) {
  Start();
  auto h = Client().Get("/healthz");
  ASSERT_TRUE(h);
  EXPECT_EQ(h->status, 200);
  EXPECT_EQ(json::parse(h->body), json({{"status", "ok"}}));

  auto ready = Client().Get("/readyz");
  EXPECT_EQ(ready->status, 200);
  EXPECT_EQ(json::parse(ready->body)["status"], "ready");

  publisher_.FailWith(UnavailableError("broker_down", "connection refused"));
  auto broker_down = Client().Get("/readyz");
  EXPECT_EQ(broker_down->status, 503);
  json b = json::parse(broker_down->body);
  EXPECT_EQ(b["checks"]["store"], "ok");
  EXPECT_NE(b["checks"]["broker"], "ok");
  EXPECT_EQ(b["error"]["code"], "not_ready");
  EXPECT_NE(b["error"]["message"].get<std::string>().find("broker"), std::string::npos);
  // Liveness does not depend on the broker.
  EXPECT_EQ(Client().Get("/healthz")->status, 200);

  publisher_.FailWith(Status::Ok());
  store_.fail_ping_ = UnavailableError("db_down", "gone");
  auto store_down = Client().Get("/readyz");
  EXPECT_EQ(store_down->status, 503);
  EXPECT_NE(json::parse(store_down->body)["checks"]["store"], "ok");
}

TEST_F(ApiTest, MetricsCountRequestsAndUploads) {
  Start();
  ASSERT_EQ(Upload(jpeg_)->status, 202);
  ASSERT_EQ(Upload(synth::TextBytes())->status, 415);
  ASSERT_EQ(Client().Get("/status/" + NewImageId())->status, 404);

  auto& m = server_->metrics();
  ASSERT_TRUE(Eventually([&] {
    return m.SampleCount("photo_http_request_duration_seconds", {{"route", "/status/{id}"}}) == 1 &&
           m.SampleCount("photo_http_request_duration_seconds", {{"route", "/upload"}}) == 2;
  }));
  EXPECT_EQ(m.Value("photo_uploads_total", {{"result", "accepted"}}), 1);
  EXPECT_EQ(m.Value("photo_uploads_total", {{"result", "rejected"}}), 1);
  EXPECT_EQ(m.Value("photo_upload_rejects_total", {{"reason", "unsupported_media_type"}}), 1);
  EXPECT_EQ(m.Value("photo_upload_bytes_total"), static_cast<double>(jpeg_.size()));

  auto r = Client().Get("/metrics");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->get_header_value("Content-Type").find("text/plain"), std::string::npos);
  const std::string& text = r->body;
  EXPECT_NE(text.find("photo_uploads_total{result=\"accepted\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("photo_http_requests_total{code=\"202\",method=\"POST\",route=\"/upload\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("photo_http_requests_total{code=\"404\",method=\"GET\",route=\"/status/{id}\"} 1\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("photo_images{status=\"uploaded\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("photo_http_request_duration_seconds_count{route=\"/upload\"} 2\n"), std::string::npos)
      << text;
}

TEST_F(ApiTest, UnknownRoutesAndWrongMethodsAreJson) {
  Start();
  auto nf = Client().Get("/nope");
  ASSERT_TRUE(nf);
  EXPECT_EQ(nf->status, 404);
  EXPECT_EQ(ErrorCode(nf), "not_found");

  auto get_upload = Client().Get("/upload/");
  ASSERT_TRUE(get_upload);
  EXPECT_EQ(get_upload->status, 405);
  EXPECT_EQ(ErrorCode(get_upload), "method_not_allowed");
  EXPECT_EQ(get_upload->get_header_value("Allow"), "POST");

  auto post_status = Client().Post("/status/" + NewImageId(), "", "text/plain");
  ASSERT_TRUE(post_status);
  EXPECT_EQ(post_status->status, 405);
  EXPECT_EQ(post_status->get_header_value("Allow"), "GET, HEAD");
}

TEST_F(ApiTest, OpenApiDescribesEveryRoute) {
  Start();
  auto r = Client().Get("/openapi.json");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "application/json");
  json spec = json::parse(r->body, nullptr, false);
  ASSERT_FALSE(spec.is_discarded());
  EXPECT_EQ(spec["openapi"].get<std::string>().substr(0, 2), "3.");
  for (const std::string& route : ApiServer::Routes()) {
    const std::string method = route.substr(0, route.find(' '));
    const std::string path = route.substr(route.find(' ') + 1);
    std::string lower = method;
    for (char& c : lower) c = static_cast<char>(std::tolower(c));
    ASSERT_TRUE(spec["paths"].contains(path)) << route;
    ASSERT_TRUE(spec["paths"][path].contains(lower)) << route;
    EXPECT_TRUE(spec["paths"][path][lower].contains("responses")) << route;
  }
  // Every documented route exists, and every $ref resolves.
  EXPECT_EQ(spec["paths"].size(), ApiServer::Routes().size());
  std::function<void(const json&)> check_refs = [&](const json& j) {
    if (j.is_object()) {
      if (j.contains("$ref")) {
        std::string ref = j["$ref"];
        ASSERT_EQ(ref.rfind("#/", 0), 0u) << ref;
        EXPECT_TRUE(spec.contains(json::json_pointer(ref.substr(1)))) << ref;
      }
      for (const auto& [k, v] : j.items()) check_refs(v);
    } else if (j.is_array()) {
      for (const auto& v : j) check_refs(v);
    }
  };
  check_refs(spec);
  EXPECT_TRUE(spec["components"]["schemas"].contains("Error"));
}

TEST_F(ApiTest, DocsPageIsSelfContained) {
  Start();
  auto r = Client().Get("/docs");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->get_header_value("Content-Type"), "text/html; charset=utf-8");
  const std::string& html = r->body;
  for (const std::string& route : ApiServer::Routes()) {
    std::string path = route.substr(route.find(' ') + 1);
    EXPECT_NE(html.find("<code>" + route + "</code>"), std::string::npos) << route;
  }
  EXPECT_NE(html.find("enctype=\"multipart/form-data\""), std::string::npos);
  EXPECT_NE(html.find("name=\"file\""), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
}

TEST(DocsPageTest, EscapesTheSpecText) {
  std::string html = RenderDocsPage(
      R"({"openapi":"3.0.3","info":{"title":"<b>x</b>","version":"1"},"paths":{"/a":{"get":{"summary":"<img src=x>","responses":{}}}}})");
  EXPECT_EQ(html.find("<b>x</b>"), std::string::npos);
  EXPECT_EQ(html.find("<img"), std::string::npos);
  EXPECT_NE(html.find("&lt;img src=x&gt;"), std::string::npos);
  EXPECT_NE(RenderDocsPage("not json").find("does not parse"), std::string::npos);
}

TEST_F(ApiTest, StopDrainsInFlightUploads) {
  GatePublisher gate;
  Start(&gate);
  auto upload = std::async(std::launch::async, [&] { return Upload(jpeg_); });
  gate.WaitEntered();  // the upload is inside Publish now
  auto stopped = std::async(std::launch::async, [&] { server_->Stop(); });
  EXPECT_EQ(stopped.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout)
      << "Stop returned while a request was in flight";
  gate.Open();
  auto r = upload.get();
  ASSERT_TRUE(r) << httplib::to_string(r.error());
  EXPECT_EQ(r->status, 202) << r->body;
  stopped.get();
  EXPECT_FALSE(server_->running());
  // And nothing accepts connections any more.
  httplib::Client c("127.0.0.1", server_->port());
  c.set_connection_timeout(1, 0);
  EXPECT_FALSE(c.Get("/healthz"));
}

TEST_F(ApiTest, StartFailsOnABusyPort) {
  Start();
  ApiConfig second = config_;
  second.port = server_->port();
  ApiServer other(second, ApiDeps{.store = &store_, .publisher = &publisher_, .metrics = nullptr, .probe = {}});
  Status s = other.Start();
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.reason(), "bind_failed");
}

TEST_F(ApiTest, StaleTempFilesAreRemovedAtStart) {
  ASSERT_TRUE(MakeDirs(data_dir_ / "tmp").ok());
  const fs::path stale = data_dir_ / "tmp" / "upload-old.part";
  const fs::path fresh = data_dir_ / "tmp" / "upload-new.part";
  ASSERT_TRUE(WriteFileAtomic(stale, "x").ok());
  ASSERT_TRUE(WriteFileAtomic(fresh, "y").ok());
  fs::last_write_time(stale, fs::file_time_type::clock::now() - std::chrono::hours(2));
  Start();
  EXPECT_FALSE(fs::exists(stale));
  EXPECT_TRUE(fs::exists(fresh));  // may belong to another live API process
}

}  // namespace
}  // namespace photo::http
