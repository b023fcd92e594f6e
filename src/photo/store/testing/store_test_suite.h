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

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "photo/core/ids.h"
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

REGISTER_TYPED_TEST_SUITE_P(StoreContractTest, CreateThenGetReturnsTheRecord, GetUnknownIsNotFound,
                            DuplicateCreateIsAlreadyExistsAndKeepsTheFirst,
                            UpdateRoundTripsEveryField, UpdateKeepsIdAndAdvancesUpdatedAt,
                            FailingMutateWritesNothing, UpdateUnknownIsNotFoundAndDoesNotCallMutate,
                            ConcurrentUpdatesLoseNothing, DeleteRemovesAndIsIdempotent,
                            CountByStatusCountsEachStatus, PingSucceeds);

}  // namespace photo::store::testing
