#include "photo/webapp/app_api.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "photo/core/ids.h"
#include "photo/store/memory_store.h"
#include "photo/store/record_json.h"

namespace photo::webapp {
namespace {

using nlohmann::json;

std::string Header(const Reply& r, std::string_view name) {
  for (const auto& [k, v] : r.headers)
    if (k == name) return v;
  return "";
}

std::string RecordJson(const store::ImageRecord& r) { return store::RecordToApiJson(r).dump(); }

class FakeOps : public broker::Operations {
 public:
  Result<std::vector<broker::StageStats>> Stats() override {
    if (!up) return UnavailableError("broker_unavailable", "down");
    broker::StageStats s;
    s.stage = "resize";
    s.work = {"resize", true, 4, 2};
    s.parking = {"resize.parking", true, 1, 0};
    return std::vector<broker::StageStats>{s};
  }
  Result<std::vector<broker::ParkedJob>> Parked(std::string_view stage, std::size_t) override {
    broker::ParkedJob j;
    j.stage = std::string(stage);
    j.message_id = "abc:resize";
    j.filename = "<b>x</b>.jpg";
    j.error_code = "corrupt_image";
    return std::vector<broker::ParkedJob>{j};
  }
  Result<std::size_t> Replay(std::string_view, std::string_view id) override {
    replayed = std::string(id);
    return std::size_t{1};
  }
  bool up = true;
  std::string replayed;
};

TEST(AppApiTest, AssetsCarryCspAndRevalidate) {
  Reply r = AssetReply("/", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.content_type, "text/html; charset=utf-8");
  EXPECT_NE(Header(r, "Content-Security-Policy").find("script-src 'self'"), std::string::npos);
  EXPECT_EQ(Header(r, "Content-Security-Policy").find("unsafe-inline"), std::string::npos);
  Reply again = AssetReply("/index.html", "W/" + Header(r, "ETag"));
  EXPECT_EQ(again.status, 304);
  EXPECT_TRUE(again.body.empty());
  EXPECT_EQ(AssetReply("/app/nope.js", "").status, 404);
}

TEST(AppApiTest, ListingPagesAndRefusesBadParameters) {
  store::MemoryStatusStore s;
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(s.Create(store::NewRecord(NewImageId(), "f.jpg", 1000 + i)).ok());
  Reply r = ListImagesReply(s, {{"limit", "3"}}, RecordJson);
  ASSERT_EQ(r.status, 200) << r.body;
  json j = json::parse(r.body);
  ASSERT_EQ(j["items"].size(), 3u);
  EXPECT_EQ(j["items"][0]["filename"], "f.jpg");
  ASSERT_TRUE(j["next_cursor"].is_string());
  Reply r2 = ListImagesReply(s, {{"limit", "3"}, {"cursor", j["next_cursor"]}}, RecordJson);
  json j2 = json::parse(r2.body);
  EXPECT_EQ(j2["items"].size(), 2u);
  EXPECT_TRUE(j2["next_cursor"].is_null());
  EXPECT_EQ(ListImagesReply(s, {{"limit", "0"}}, RecordJson).status, 400);
  EXPECT_EQ(ListImagesReply(s, {{"limit", "abc"}}, RecordJson).status, 400);
  EXPECT_EQ(ListImagesReply(s, {{"status", "weird"}}, RecordJson).status, 400);
  EXPECT_EQ(ListImagesReply(s, {{"has_faces", "maybe"}}, RecordJson).status, 400);
  Reply bad = ListImagesReply(s, {{"cursor", "zzz"}}, RecordJson);
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body)["error"]["code"], "bad_cursor");
  EXPECT_EQ(json::parse(ListImagesReply(s, {{"status", "failed"}}, RecordJson).body)["items"].size(), 0u);
}

TEST(AppApiTest, OperatorRepliesAndBrokerOutage) {
  FakeOps ops;
  json q = json::parse(QueuesReply(ops).body);
  EXPECT_EQ(q["stages"][0]["work"]["consumers"], 2);
  EXPECT_EQ(q["stages"][0]["parking"]["messages"], 1);
  json p = json::parse(ParkedReply(ops, {}).body);
  EXPECT_EQ(p["jobs"][0]["filename"], "<b>x</b>.jpg");
  Reply rep = ReplayReply(ops, "resize", "abc:resize");
  EXPECT_EQ(rep.status, 200);
  EXPECT_EQ(ops.replayed, "abc:resize");
  EXPECT_EQ(ReplayReply(ops, "resize", "").status, 400);
  ops.up = false;
  Reply down = QueuesReply(ops);
  EXPECT_EQ(down.status, 503);
  EXPECT_EQ(Header(down, "Retry-After"), "5");
}

TEST(AppApiTest, SseFraming) {
  feed::FeedEvent e{7, "123-abc", "processing", R"({"id":"abc"})"};
  EXPECT_EQ(SseEvent(e), "id: 123-abc\nevent: image\ndata: {\"id\":\"abc\"}\n\n");
  EXPECT_EQ(LastEventId("", {{"last_event_id", "1-x"}}), "1-x");
  EXPECT_EQ(LastEventId("2-y", {{"last_event_id", "1-x"}}), "2-y");
  EXPECT_EQ(ErrorReply(InternalError("boom", "secret path /x")).body.find("secret"),
            std::string::npos);
}

}  // namespace
}  // namespace photo::webapp
