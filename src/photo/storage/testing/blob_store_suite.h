// The behaviour every BlobStore must have, as a value-parameterised GoogleTest
// suite. Each implementation's test instantiates it with a factory:
//
//   INSTANTIATE_TEST_SUITE_P(Local, BlobStoreContract, testing::Values(StoreFactory{...}));
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <string>

#include "photo/storage/blob_store.h"

namespace photo::storage::testing {

// The suite's parameter: a name for test listings and a factory.
struct StoreFactory {
  std::string name;
  std::function<std::unique_ptr<BlobStore>()> make;
  friend void PrintTo(const StoreFactory& f, std::ostream* os) { *os << f.name; }
};

inline std::string RandomBytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

// A fresh key prefix per test, so that runs against a shared bucket never
// see each other's objects.
inline std::string UniquePrefix() {
  static std::mt19937_64 rng{std::random_device{}()};
  return "t" + std::to_string(rng() % 1000000000ull) + "/";
}

class BlobStoreContract : public ::testing::TestWithParam<StoreFactory> {
 protected:
  void SetUp() override {
    store_ = GetParam().make();
    ASSERT_NE(store_, nullptr);
    p_ = UniquePrefix();
  }
  std::unique_ptr<BlobStore> store_;
  std::string p_;
};

TEST_P(BlobStoreContract, PutGetRoundTripsBytes) {
  const std::string data = RandomBytes(300'000, 1);
  ASSERT_TRUE(store_->Put(p_ + "a/blob.jpg", data).ok());
  auto got = GetBytes(*store_, p_ + "a/blob.jpg");
  ASSERT_TRUE(got.ok()) << got.error().ToString();
  EXPECT_EQ(*got, data);
}

TEST_P(BlobStoreContract, PutReplacesWholeBlob) {
  ASSERT_TRUE(store_->Put(p_ + "k", std::string(1000, 'a')).ok());
  ASSERT_TRUE(store_->Put(p_ + "k", "short").ok());
  EXPECT_EQ(*GetBytes(*store_, p_ + "k"), "short");
}

TEST_P(BlobStoreContract, EmptyBlob) {
  ASSERT_TRUE(store_->Put(p_ + "empty", "").ok());
  EXPECT_EQ(GetBytes(*store_, p_ + "empty").value(), "");
  EXPECT_EQ(store_->Head(p_ + "empty")->size, 0u);
}

TEST_P(BlobStoreContract, PutFileRoundTrips) {
  const std::string data = RandomBytes(1'500'000, 2);
  const auto dir = std::filesystem::temp_directory_path() / ("blob-suite-" + p_.substr(0, p_.size() - 1));
  std::filesystem::create_directories(dir);
  {
    std::ofstream(dir / "in", std::ios::binary) << data;
  }
  ASSERT_TRUE(store_->PutFile(p_ + "f/original", dir / "in").ok());
  ASSERT_TRUE(GetToFile(*store_, p_ + "f/original", dir / "out").ok());
  std::ifstream in(dir / "out", std::ios::binary);
  std::string back((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(back, data);
  std::filesystem::remove_all(dir);
}

TEST_P(BlobStoreContract, GetRange) {
  const std::string data = RandomBytes(100'000, 3);
  ASSERT_TRUE(store_->Put(p_ + "r", data).ok());
  EXPECT_EQ(*GetBytes(*store_, p_ + "r", ByteRange{10, 19}), data.substr(10, 10));
  EXPECT_EQ(*GetBytes(*store_, p_ + "r", ByteRange{99'990, std::nullopt}), data.substr(99'990));
  // A last byte past the end is clamped, as in HTTP.
  EXPECT_EQ(*GetBytes(*store_, p_ + "r", ByteRange{99'000, 500'000}), data.substr(99'000));
  auto past = GetBytes(*store_, p_ + "r", ByteRange{200'000, std::nullopt});
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(past.error().reason(), "range_not_satisfiable");
}

TEST_P(BlobStoreContract, HeadGivesSizeAndAnEtagThatChangesWithTheBytes) {
  ASSERT_TRUE(store_->Put(p_ + "h", "12345").ok());
  auto a = store_->Head(p_ + "h");
  ASSERT_TRUE(a.ok()) << a.error().ToString();
  EXPECT_EQ(a->size, 5u);
  EXPECT_GE(a->etag.size(), 3u);
  EXPECT_EQ(a->etag.front(), '"');
  ASSERT_TRUE(store_->Put(p_ + "h", "67890x").ok());
  auto b = store_->Head(p_ + "h");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->size, 6u);
  EXPECT_NE(a->etag, b->etag);
}

TEST_P(BlobStoreContract, MissingKeyIsNotFound) {
  auto h = store_->Head(p_ + "nope");
  ASSERT_FALSE(h.ok());
  EXPECT_EQ(h.error().code(), StatusCode::kNotFound);
  auto g = GetBytes(*store_, p_ + "nope");
  ASSERT_FALSE(g.ok());
  EXPECT_EQ(g.error().code(), StatusCode::kNotFound);
}

TEST_P(BlobStoreContract, DeleteRemovesAndToleratesMissing) {
  ASSERT_TRUE(store_->Put(p_ + "d", "x").ok());
  ASSERT_TRUE(store_->Delete(p_ + "d").ok());
  EXPECT_EQ(store_->Head(p_ + "d").error().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->Delete(p_ + "d").ok());
}

TEST_P(BlobStoreContract, DeletePrefixErasesOneFolderOnly) {
  for (const char* k : {"images/ab/abc/original", "images/ab/abc/clean/thumb.jpg", "images/ab/abc/thumb.jpg",
                        "images/ab/abcd/original"})
    ASSERT_TRUE(store_->Put(p_ + k, k).ok());
  ASSERT_TRUE(DeletePrefix(*store_, p_ + "images/ab/abc/").ok());
  auto left = store_->List(p_ + "images/");
  ASSERT_TRUE(left.ok()) << left.error().ToString();
  ASSERT_EQ(left->size(), 1u);
  EXPECT_EQ((*left)[0].key, p_ + "images/ab/abcd/original");
  if (auto dir = store_->LocalPath(p_ + "images/ab/abc")) {
    EXPECT_FALSE(std::filesystem::exists(*dir));
  }
  EXPECT_TRUE(DeletePrefix(*store_, p_ + "images/ab/abc/").ok());  // nothing left: still fine
  EXPECT_EQ(DeletePrefix(*store_, "../x/").code(), StatusCode::kInvalidArgument);
}

TEST_P(BlobStoreContract, ListByPrefixInKeyOrder) {
  for (const char* k : {"img/b/2.jpg", "img/a/1.jpg", "img/a/clean/1.jpg", "other/x"})
    ASSERT_TRUE(store_->Put(p_ + k, k).ok());
  auto all = store_->List(p_ + "img/");
  ASSERT_TRUE(all.ok()) << all.error().ToString();
  std::vector<std::string> keys;
  for (const auto& e : *all) keys.push_back(e.key);
  EXPECT_EQ(keys, (std::vector<std::string>{p_ + "img/a/1.jpg", p_ + "img/a/clean/1.jpg",
                                            p_ + "img/b/2.jpg"}));
  auto partial = store_->List(p_ + "img/a/cl");
  ASSERT_TRUE(partial.ok());
  ASSERT_EQ(partial->size(), 1u);
  EXPECT_EQ((*partial)[0].key, p_ + "img/a/clean/1.jpg");
  EXPECT_EQ((*partial)[0].size, std::string("img/a/clean/1.jpg").size());
  // Written just now, by this machine's clock give or take a minute.
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  EXPECT_LT(std::abs((*partial)[0].modified_unix_ms - now_ms), 60'000);
  EXPECT_TRUE(store_->List(p_ + "none/")->empty());
}

TEST_P(BlobStoreContract, RefusesKeysThatAreNotPlainRelativePaths) {
  for (const char* k : {"", "/abs", "a/../b", "a//b", "a/./b", "sp ace", "a/"})
    EXPECT_EQ(store_->Put(k, "x").reason(), "invalid_key") << k;
}

TEST_P(BlobStoreContract, SinkErrorStopsGet) {
  ASSERT_TRUE(store_->Put(p_ + "s", RandomBytes(600'000, 4)).ok());
  Status s = store_->Get(p_ + "s", [](std::string_view) {
    return UnavailableError("client_gone", "the reader went away");
  });
  EXPECT_EQ(s.reason(), "client_gone");
}

TEST_P(BlobStoreContract, CheckPasses) { EXPECT_TRUE(store_->Check().ok()); }

}  // namespace photo::storage::testing
