// The StatusStore contract as a type-parameterised GoogleTest suite. Each
// adapter instantiates it with a Backend type:
//
//   struct Backend {
//     std::string SkipReason();   // non-empty: skip (e.g. no server configured)
//     Result<std::unique_ptr<StatusStore>> Open();  // another handle on the SAME store
//   };
//
// Backend::Open may be called several times per test; every handle must see
// the same data (for Memory, the backend hands out one shared object).
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <tuple>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "photo/core/ids.h"
#include "photo/store/listing.h"
#include "photo/store/status_store.h"
#include "photo/store/testing/record_testing.h"

namespace photo::store::testing {

template <typename Backend>
class StoreContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (std::string why = backend_.SkipReason(); !why.empty()) GTEST_SKIP() << why;
    auto s = backend_.Open();
    ASSERT_TRUE(s) << s.error().ToString();
    store_ = std::move(*s);
  }

  Backend backend_;
  std::unique_ptr<StatusStore> store_;
};

TYPED_TEST_SUITE_P(StoreContractTest);

TYPED_TEST_P(StoreContractTest, CreateThenGetReturnsTheRecord) {
  ImageRecord r = NewRecord(NewImageId(), "a.jpg", NowUnixMillis());
  ASSERT_TRUE(this->store_->Create(r).ok());
  auto got = this->store_->Get(r.id);
  ASSERT_TRUE(got) << got.error().ToString();
  ExpectSameRecord(*got, r);
  EXPECT_EQ(got->status, "uploaded");
  ASSERT_EQ(got->stages.size(), 3u);
}

TYPED_TEST_P(StoreContractTest, GetUnknownIsNotFound) {
  auto got = this->store_->Get(NewImageId());
  ASSERT_FALSE(got);
  EXPECT_EQ(got.error().code(), StatusCode::kNotFound);
  EXPECT_EQ(got.error().reason(), "not_found");
}

TYPED_TEST_P(StoreContractTest, DuplicateCreateIsAlreadyExistsAndKeepsTheFirst) {
  ImageRecord r = NewRecord(NewImageId(), "first.jpg", NowUnixMillis());
  ASSERT_TRUE(this->store_->Create(r).ok());
  ImageRecord again = r;
  again.filename = "second.jpg";
  Status s = this->store_->Create(again);
  EXPECT_EQ(s.code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(s.reason(), "already_exists");
  auto got = this->store_->Get(r.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->filename, "first.jpg");
}

TYPED_TEST_P(StoreContractTest, UpdateRoundTripsEveryField) {
  std::string id = NewImageId();
  ASSERT_TRUE(this->store_->Create(NewRecord(id, "x.jpg", 1000)).ok());
  ImageRecord full = FullRecord(id);
  std::int64_t before = NowUnixMillis();
  auto updated = this->store_->Update(id, [&](ImageRecord& r) {
    r = full;
    return Status::Ok();
  });
  ASSERT_TRUE(updated) << updated.error().ToString();
  ExpectSameRecord(*updated, full, /*ignore_updated_at=*/true);
  EXPECT_GE(updated->updated_at_ms, before);

  // A second handle reads what the first wrote.
  auto other = this->backend_.Open();
  ASSERT_TRUE(other);
  auto got = (*other)->Get(id);
  ASSERT_TRUE(got) << got.error().ToString();
  ExpectSameRecord(*got, *updated);
}

TYPED_TEST_P(StoreContractTest, UpdateKeepsIdAndAdvancesUpdatedAt) {
  std::string id = NewImageId();
  ASSERT_TRUE(this->store_->Create(NewRecord(id, "x.jpg", 1000)).ok());
  auto updated = this->store_->Update(id, [](ImageRecord& r) {
    r.id = "someone-else";
    r.status = "processing";
    return Status::Ok();
  });
  ASSERT_TRUE(updated);
  EXPECT_EQ(updated->id, id);
  EXPECT_GT(updated->updated_at_ms, 1000);
  EXPECT_EQ(updated->created_at_ms, 1000);
  EXPECT_FALSE(this->store_->Get("someone-else"));
  EXPECT_EQ(this->store_->Get(id)->status, "processing");
}

TYPED_TEST_P(StoreContractTest, FailingMutateWritesNothing) {
  std::string id = NewImageId();
  ASSERT_TRUE(this->store_->Create(NewRecord(id, "x.jpg", 1000)).ok());
  auto updated = this->store_->Update(id, [](ImageRecord& r) {
    r.status = "failed";
    return FailedPreconditionError("nope", "refused");
  });
  ASSERT_FALSE(updated);
  EXPECT_EQ(updated.error().reason(), "nope");
  auto got = this->store_->Get(id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, "uploaded");
  EXPECT_EQ(got->updated_at_ms, 1000);
}

TYPED_TEST_P(StoreContractTest, UpdateUnknownIsNotFoundAndDoesNotCallMutate) {
  bool called = false;
  auto updated = this->store_->Update(NewImageId(), [&](ImageRecord&) {
    called = true;
    return Status::Ok();
  });
  ASSERT_FALSE(updated);
  EXPECT_EQ(updated.error().code(), StatusCode::kNotFound);
  EXPECT_FALSE(called);
}

TYPED_TEST_P(StoreContractTest, ConcurrentUpdatesLoseNothing) {
  std::string id = NewImageId();
  ASSERT_TRUE(this->store_->Create(NewRecord(id, "x.jpg", NowUnixMillis())).ok());
  constexpr int kThreads = 8, kIncrements = 200;
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      // Half the threads share the fixture's handle, half open their own, so
      // both the pool and separate handles are exercised.
      std::unique_ptr<StatusStore> own;
      StatusStore* store = this->store_.get();
      if (t % 2 == 1) {
        auto s = this->backend_.Open();
        if (!s) {
          failures += kIncrements;
          return;
        }
        own = std::move(*s);
        store = own.get();
      }
      for (int i = 0; i < kIncrements; ++i) {
        auto r = store->Update(id, [](ImageRecord& rec) {
          rec.Stage("resize").attempts += 1;
          return Status::Ok();
        });
        if (!r) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  auto got = this->store_->Get(id);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->FindStage("resize")->attempts, kThreads * kIncrements);
}

TYPED_TEST_P(StoreContractTest, DeleteRemovesAndIsIdempotent) {
  std::string id = NewImageId();
  ASSERT_TRUE(this->store_->Create(NewRecord(id, "x.jpg", NowUnixMillis())).ok());
  ASSERT_TRUE(this->store_->Delete(id).ok());
  EXPECT_EQ(this->store_->Get(id).error().code(), StatusCode::kNotFound);
  EXPECT_TRUE(this->store_->Delete(id).ok());
  EXPECT_TRUE(this->store_->Delete(NewImageId()).ok());
  // The id is free again.
  EXPECT_TRUE(this->store_->Create(NewRecord(id, "y.jpg", NowUnixMillis())).ok());
}

TYPED_TEST_P(StoreContractTest, CountByStatusCountsEachStatus) {
  // Statuses unique to this run, so tests sharing a database do not interfere.
  std::string tag = NewImageId().substr(0, 8);
  std::string a = "count-a-" + tag, b = "count-b-" + tag;
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ImageRecord r = NewRecord(NewImageId(), "x.jpg", NowUnixMillis());
    r.status = i < 3 ? a : b;
    ids.push_back(r.id);
    ASSERT_TRUE(this->store_->Create(r).ok());
  }
  // The status column follows Update.
  ASSERT_TRUE(this->store_->Update(ids[0], [&](ImageRecord& r) {
    r.status = b;
    return Status::Ok();
  }));
  ASSERT_TRUE(this->store_->Delete(ids[4]).ok());
  auto counts = this->store_->CountByStatus();
  ASSERT_TRUE(counts) << counts.error().ToString();
  EXPECT_EQ((*counts)[a], 2);
  EXPECT_EQ((*counts)[b], 2);
}

TYPED_TEST_P(StoreContractTest, PingSucceeds) { EXPECT_TRUE(this->store_->Ping().ok()); }

// Records of a status unique to the test (so tests sharing a database do not
// see each other's), created_at = base + i; two share one created_at so the
// id breaks the tie.
inline std::vector<ImageRecord> MakeListed(StatusStore& store, const std::string& status, int n,
                                           std::int64_t base) {
  std::vector<ImageRecord> made;
  for (int i = 0; i < n; ++i) {
    ImageRecord r = NewRecord(NewImageId(), "p" + std::to_string(i) + ".jpg",
                              base + (i == 1 ? 0 : i));
    r.status = status;
    EXPECT_TRUE(store.Create(r).ok());
    made.push_back(r);
  }
  std::sort(made.begin(), made.end(), [](const ImageRecord& a, const ImageRecord& b) {
    return std::tie(a.created_at_ms, a.id) > std::tie(b.created_at_ms, b.id);
  });
  return made;
}

inline std::vector<std::string> Ids(const std::vector<ImageRecord>& v) {
  std::vector<std::string> out;
  for (const auto& r : v) out.push_back(r.id);
  return out;
}

TYPED_TEST_P(StoreContractTest, ListingPagesNewestFirstWithStableCursors) {
  const std::string tag = "list-" + NewImageId().substr(0, 8);
  auto made = MakeListed(*this->store_, tag, 7, 1'700'000'000'000);
  ListQuery q;
  q.status = tag;
  q.limit = 3;
  std::vector<ImageRecord> seen;
  auto p1 = ListImages(*this->store_, q);
  ASSERT_TRUE(p1) << p1.error().ToString();
  ASSERT_EQ(p1->items.size(), 3u);
  ASSERT_FALSE(p1->next_cursor.empty());
  seen.insert(seen.end(), p1->items.begin(), p1->items.end());
  // An upload arriving between pages (newer than all) shifts nothing.
  ImageRecord late = NewRecord(NewImageId(), "late.jpg", 1'700'000'000'100);
  late.status = tag;
  ASSERT_TRUE(this->store_->Create(late).ok());
  q.cursor = p1->next_cursor;
  auto p2 = ListImages(*this->store_, q);
  ASSERT_TRUE(p2) << p2.error().ToString();
  ASSERT_EQ(p2->items.size(), 3u);
  seen.insert(seen.end(), p2->items.begin(), p2->items.end());
  q.cursor = p2->next_cursor;
  auto p3 = ListImages(*this->store_, q);
  ASSERT_TRUE(p3);
  ASSERT_EQ(p3->items.size(), 1u);
  EXPECT_EQ(p3->next_cursor, "") << "the last page says so";
  seen.insert(seen.end(), p3->items.begin(), p3->items.end());
  EXPECT_EQ(Ids(seen), Ids(made));
  // An exact multiple of the limit ends without an empty extra page.
  q.cursor.clear();
  q.limit = 8;
  auto all = ListImages(*this->store_, q);
  ASSERT_TRUE(all);
  EXPECT_EQ(all->items.size(), 8u);
  EXPECT_EQ(all->items.front().id, late.id);
  EXPECT_EQ(all->next_cursor, "");
}

TYPED_TEST_P(StoreContractTest, ListingFiltersOnDetectionsAndRefusesBadInput) {
  const std::string tag = "filt-" + NewImageId().substr(0, 8);
  auto made = MakeListed(*this->store_, tag, 6, 1'700'000'100'000);
  // made[i] newest first; give detections to some.
  for (int i : {0, 2, 3}) {
    ASSERT_TRUE(this->store_->Update(made[static_cast<std::size_t>(i)].id, [&](ImageRecord& r) {
      image::Detections d;
      d.face_count = i == 3 ? 0 : 2;
      d.blurry = i == 2;
      r.detections = d;
      return Status::Ok();
    }));
  }
  ListQuery q;
  q.status = tag;
  q.has_faces = true;
  auto faces = ListImages(*this->store_, q);
  ASSERT_TRUE(faces) << faces.error().ToString();
  EXPECT_EQ(Ids(faces->items), (std::vector<std::string>{made[0].id, made[2].id}));
  EXPECT_EQ(faces->next_cursor, "");
  q.has_faces.reset();
  q.blurry = false;
  q.limit = 1;
  auto sharp = ListImages(*this->store_, q);
  ASSERT_TRUE(sharp);
  EXPECT_EQ(Ids(sharp->items), std::vector<std::string>{made[0].id});
  q.cursor = sharp->next_cursor;
  auto sharp2 = ListImages(*this->store_, q);
  ASSERT_TRUE(sharp2);
  EXPECT_EQ(Ids(sharp2->items), std::vector<std::string>{made[3].id});

  q = ListQuery{};
  q.cursor = "not-a-cursor";
  EXPECT_EQ(ListImages(*this->store_, q).error().reason(), "bad_cursor");
  q.cursor = EncodeCursor({1, "abc'; DROP TABLE images;--"});
  EXPECT_EQ(ListImages(*this->store_, q).error().reason(), "bad_cursor");
  q.cursor.clear();
  q.limit = 0;
  EXPECT_EQ(ListImages(*this->store_, q).error().reason(), "bad_limit");
  q.limit = kMaxListLimit + 1;
  EXPECT_EQ(ListImages(*this->store_, q).error().reason(), "bad_limit");
}

TYPED_TEST_P(StoreContractTest, ScanChangedFollowsUpdatesInOrder) {
  auto start = this->store_->ScanChanged({NowUnixMillis() - 1, ""}, 1000);
  ASSERT_TRUE(start) << start.error().ToString();
  ScanKey from{NowUnixMillis() - 1, ""};
  std::string a = NewImageId(), b = NewImageId();
  ASSERT_TRUE(this->store_->Create(NewRecord(a, "a.jpg", NowUnixMillis())).ok());
  ASSERT_TRUE(this->store_->Create(NewRecord(b, "b.jpg", NowUnixMillis())).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  auto upd = this->store_->Update(a, [](ImageRecord& r) {
    r.status = "processing";
    return Status::Ok();
  });
  ASSERT_TRUE(upd);
  auto changed = this->store_->ScanChanged(from, 1000);
  ASSERT_TRUE(changed) << changed.error().ToString();
  std::vector<std::string> order;
  for (const auto& r : *changed)
    if (r.id == a || r.id == b) order.push_back(r.id);
  EXPECT_EQ(order, (std::vector<std::string>{b, a})) << "a was updated last";
  for (std::size_t i = 1; i < changed->size(); ++i) {
    const auto &x = (*changed)[i - 1], &y = (*changed)[i];
    EXPECT_LE(std::tie(x.updated_at_ms, x.id), std::tie(y.updated_at_ms, y.id));
  }
  // Strictly after the key of a's update: a is not repeated.
  auto after = this->store_->ScanChanged({upd->updated_at_ms, a}, 1000);
  ASSERT_TRUE(after);
  for (const auto& r : *after) EXPECT_NE(r.id, a);
}

REGISTER_TYPED_TEST_SUITE_P(StoreContractTest, CreateThenGetReturnsTheRecord, GetUnknownIsNotFound,
                            DuplicateCreateIsAlreadyExistsAndKeepsTheFirst,
                            UpdateRoundTripsEveryField, UpdateKeepsIdAndAdvancesUpdatedAt,
                            FailingMutateWritesNothing, UpdateUnknownIsNotFoundAndDoesNotCallMutate,
                            ConcurrentUpdatesLoseNothing, DeleteRemovesAndIsIdempotent,
                            CountByStatusCountsEachStatus, PingSucceeds,
                            ListingPagesNewestFirstWithStableCursors,
                            ListingFiltersOnDetectionsAndRefusesBadInput,
                            ScanChangedFollowsUpdatesInOrder);

}  // namespace photo::store::testing
