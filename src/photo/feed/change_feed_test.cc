#include "photo/feed/change_feed.h"

#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "photo/core/ids.h"
#include "photo/store/memory_store.h"

namespace photo::feed {
namespace {

using namespace std::chrono_literals;

store::ImageRecord Rec(std::int64_t updated_ms, const std::string& name = "a.jpg") {
  store::ImageRecord r = store::NewRecord(NewImageId(), name, updated_ms - 10);
  r.updated_at_ms = updated_ms;
  return r;
}

void SetStage(store::StatusStore& s, const std::string& id, const std::string& stage,
              const std::string& state) {
  ASSERT_TRUE(s.Update(id, [&](store::ImageRecord& r) {
    r.Stage(stage).state = state;
    r.status = "processing";
    return Status::Ok();
  }));
}

TEST(EventIdTest, RoundTripsAndRefusesJunk) {
  auto k = ParseEventId(EventId(1764285364123, "abc"));
  ASSERT_TRUE(k);
  EXPECT_EQ(k->ms, 1764285364123);
  EXPECT_EQ(k->id, "abc");
  for (const char* bad : {"", "-abc", "12x-abc", "abc", "-1-x"}) EXPECT_FALSE(ParseEventId(bad)) << bad;
}

TEST(SummaryTest, CarriesWhatACardShowsAndNoStoragePaths) {
  store::ImageRecord r = Rec(NowUnixMillis(), "<img src=x onerror=alert(1)>.jpg");
  r.status = "failed";
  r.error = store::ErrorInfo{"resize", "corrupt_image", "bad \xff huffman"};
  r.renditions.push_back({"thumb", "images/xx/secret/thumb.jpg", 320, 240, 1, image::OutputFormat::kJpeg, false});
  auto j = nlohmann::json::parse(RecordSummaryJson(r));
  EXPECT_EQ(j["filename"], r.filename);
  EXPECT_EQ(j["status"], "failed");
  EXPECT_EQ(j["error"]["code"], "corrupt_image");
  EXPECT_EQ(j["thumb"], "/images/" + r.id + "/thumb");
  EXPECT_EQ(j["stages"]["resize"]["state"], "pending");
  EXPECT_TRUE(j["faces"].is_null());
  EXPECT_EQ(RecordSummaryJson(r).find("secret"), std::string::npos);
}

TEST(SummaryTest, ThumbnailUrlGoesThroughTheRenditionUrlFunction) {
  store::ImageRecord r = Rec(NowUnixMillis(), "a.jpg");
  r.renditions.push_back({"thumb", "images/xx/thumb.jpg", 320, 240, 1, image::OutputFormat::kJpeg, false});
  auto sign = [](std::string_view path) { return std::string(path) + "?exp=1&sig=x"; };
  auto j = nlohmann::json::parse(RecordSummaryJson(r, sign));
  EXPECT_EQ(j["thumb"], "/images/" + r.id + "/thumb?exp=1&sig=x");
  store::MemoryStatusStore s;
  ASSERT_TRUE(s.Create(r).ok());
  ChangeFeed feed(&s, {.overlap = 100ms, .rendition_url = sign});
  auto c = feed.CatchUp(EventId(r.updated_at_ms - 1, ""));
  ASSERT_TRUE(c.ok()) << c.error().ToString();
  ASSERT_EQ(c->events.size(), 1u);
  EXPECT_NE(c->events[0].data.find("/thumb?exp=1&sig=x"), std::string::npos) << c->events[0].data;
}

TEST(ChangeFeedTest, EachNewVersionBecomesOneEventInOrder) {
  store::MemoryStatusStore s;
  ChangeFeed feed(&s, {.poll_interval = 1h});
  store::ImageRecord r = Rec(NowUnixMillis());
  ASSERT_TRUE(s.Create(r).ok());
  // Subscribing starts the poller, whose first poll (its only one within the
  // hour) is the one that emits the record. Once its event is here, no poll
  // runs behind the test's back: a late first poll landing between the two
  // updates below would otherwise emit both versions (seen under load).
  auto sub = feed.Subscribe();
  auto b1 = sub->Next(30s);
  ASSERT_EQ(b1.events.size(), 1u);
  EXPECT_EQ(b1.events[0].id, EventId(r.updated_at_ms, r.id));
  EXPECT_EQ(b1.events[0].status, "uploaded");
  ASSERT_TRUE(feed.PollOnce().ok());
  EXPECT_TRUE(sub->Poll().events.empty()) << "an unchanged record is not repeated";

  std::this_thread::sleep_for(2ms);
  SetStage(s, r.id, "resize", "processing");
  std::this_thread::sleep_for(2ms);
  SetStage(s, r.id, "resize", "completed");  // two updates between polls: the newest wins
  ASSERT_TRUE(feed.PollOnce().ok());
  auto b2 = sub->Poll();
  ASSERT_EQ(b2.events.size(), 1u);
  auto j = nlohmann::json::parse(b2.events[0].data);
  EXPECT_EQ(j["stages"]["resize"]["state"], "completed");
  EXPECT_EQ(j["status"], "processing");
  EXPECT_FALSE(b2.gap);
}

TEST(ChangeFeedTest, AVersionCommittedLateWithinTheOverlapIsStillSeen) {
  store::MemoryStatusStore s;
  ChangeFeed feed(&s, {.poll_interval = 1h, .overlap = 2000ms});
  auto sub = feed.Subscribe();
  const std::int64_t now = NowUnixMillis();
  ASSERT_TRUE(s.Create(Rec(now)).ok());
  ASSERT_TRUE(feed.PollOnce().ok());
  ASSERT_EQ(sub->Poll().events.size(), 1u);
  // Stamped 500 ms before the newest already read, visible only now.
  store::ImageRecord late = Rec(now - 500);
  ASSERT_TRUE(s.Create(late).ok());
  ASSERT_TRUE(feed.PollOnce().ok());
  auto b = sub->Poll();
  ASSERT_EQ(b.events.size(), 1u);
  EXPECT_EQ(b.events[0].id, EventId(late.updated_at_ms, late.id));
}

TEST(ChangeFeedTest, ASubscriberLeftBehindTheRingIsToldToReload) {
  store::MemoryStatusStore s;
  ChangeFeed feed(&s, {.poll_interval = 1h, .ring_capacity = 3});
  auto slow = feed.Subscribe();
  const std::int64_t now = NowUnixMillis();
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(s.Create(Rec(now + i)).ok());
  ASSERT_TRUE(feed.PollOnce().ok());
  auto b = slow->Poll();
  EXPECT_TRUE(b.gap);
  EXPECT_EQ(b.events.size(), 3u);
  EXPECT_EQ(feed.last_seq(), 5u);
}

TEST(ChangeFeedTest, CatchUpReplaysFromTheStoreAfterALastEventId) {
  store::MemoryStatusStore s;
  ChangeFeed feed(&s, {.overlap = 100ms, .catch_up_limit = 3});
  const std::int64_t t = NowUnixMillis() - 10'000;
  store::ImageRecord old = Rec(t - 5000), seen = Rec(t), next = Rec(t + 1000);
  for (const auto* r : {&old, &seen, &next}) ASSERT_TRUE(s.Create(*r).ok());
  auto c = feed.CatchUp(EventId(seen.updated_at_ms, seen.id));
  ASSERT_TRUE(c) << c.error().ToString();
  EXPECT_TRUE(c->complete);
  ASSERT_EQ(c->events.size(), 2u) << "the overlap repeats `seen`; `old` is outside it";
  EXPECT_EQ(c->events[0].id, EventId(seen.updated_at_ms, seen.id));
  EXPECT_EQ(c->events[1].id, EventId(next.updated_at_ms, next.id));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(s.Create(Rec(t + 2000 + i)).ok());
  auto many = feed.CatchUp(EventId(seen.updated_at_ms, seen.id));
  ASSERT_TRUE(many);
  EXPECT_FALSE(many->complete);
  EXPECT_EQ(feed.CatchUp("nonsense").error().reason(), "bad_event_id");
}

TEST(ChangeFeedTest, ThePollerDeliversToAWaitingSubscriberAndIdlesWithoutOne) {
  store::MemoryStatusStore s;
  ChangeFeed feed(&s, {.poll_interval = 20ms});
  {
    auto sub = feed.Subscribe();
    store::ImageRecord r = Rec(NowUnixMillis());
    std::atomic<int> notified{0};
    sub->OnEvents([&] { ++notified; });
    ASSERT_TRUE(s.Create(r).ok());
    auto b = sub->Next(5s);
    ASSERT_EQ(b.events.size(), 1u);
    EXPECT_EQ(b.events[0].id, EventId(r.updated_at_ms, r.id));
    for (int i = 0; i < 100 && notified.load() == 0; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_GE(notified.load(), 1);
  }
  std::this_thread::sleep_for(60ms);  // the poller notices nobody listens
  const auto seq = feed.last_seq();
  ASSERT_TRUE(s.Create(Rec(NowUnixMillis())).ok());
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(feed.last_seq(), seq) << "no subscriber: no polling";
}

}  // namespace
}  // namespace photo::feed
