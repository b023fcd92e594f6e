#include "photo/http/rate_limit.h"

#include <gtest/gtest.h>

namespace photo::http {
namespace {

using Clock = RateLimiter::Clock;

TEST(RateLimiterTest, BurstThenRate) {
  RateLimiter r(/*rate=*/2, /*burst=*/3);
  const auto t0 = Clock::now();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(r.Take("a", t0), 0) << i;
  EXPECT_EQ(r.Take("a", t0), 1);  // empty: one token in 0.5 s -> Retry-After 1
  EXPECT_EQ(r.Take("b", t0), 0);  // another key is unaffected
  EXPECT_EQ(r.Take("a", t0 + std::chrono::milliseconds(600)), 0);
  EXPECT_EQ(r.Take("a", t0 + std::chrono::milliseconds(600)), 1);
}

TEST(RateLimiterTest, OffAndForgetting) {
  RateLimiter off(0, 10);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(off.Take("x"), 0);
  EXPECT_FALSE(off.enabled());

  RateLimiter r(1000, 1);
  const auto t0 = Clock::now();
  for (int i = 0; i < 100; ++i) r.Take("k" + std::to_string(i), t0);
  EXPECT_EQ(r.keys(), 100u);
  r.Take("late", t0 + std::chrono::seconds(2));  // full buckets are forgotten
  EXPECT_EQ(r.keys(), 1u);
}

TEST(RateLimiterTest, SlowRatesWaitLonger) {
  RateLimiter r(0.1, 1);
  const auto t0 = Clock::now();
  EXPECT_EQ(r.Take("a", t0), 0);
  EXPECT_EQ(r.Take("a", t0), 10);
}

}  // namespace
}  // namespace photo::http
