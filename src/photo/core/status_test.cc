#include "photo/core/status.h"

#include <gtest/gtest.h>

namespace photo {
namespace {

Result<int> Half(int x) {
  if (x % 2) return InvalidArgumentError("odd", "not even");
  return x / 2;
}

Result<int> Quarter(int x) {
  ASSIGN_OR_RETURN(int h, Half(x));
  ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

TEST(StatusTest, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "ok");
}

TEST(StatusTest, CarriesReasonAndMessage) {
  Status s = ResourceExhaustedError("too_large", "51 MiB > 50 MiB");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ(s.reason(), "too_large");
  EXPECT_EQ(s.ToString(), "too_large: 51 MiB > 50 MiB");
  EXPECT_EQ(s.WithContext("upload").message(), "upload: 51 MiB > 50 MiB");
}

TEST(StatusTest, TransienceFollowsCode) {
  EXPECT_TRUE(UnavailableError("broker_unavailable", "").IsTransient());
  EXPECT_TRUE(DeadlineExceededError("timeout", "").IsTransient());
  EXPECT_FALSE(InvalidArgumentError("corrupt_image", "").IsTransient());
  EXPECT_FALSE(ResourceExhaustedError("too_many_pixels", "").IsTransient());
}

TEST(ResultTest, ValueAndErrorPropagate) {
  EXPECT_EQ(*Quarter(8), 2);
  Result<int> r = Quarter(6);
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().reason(), "odd");
}

}  // namespace
}  // namespace photo
