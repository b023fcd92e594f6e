// Token buckets keyed by a string (a client address, a token): each key may
// spend `burst` requests at once and regains `rate` per second. Thread-safe;
// memory is bounded by forgetting keys whose bucket has refilled (a full
// bucket is the same as no bucket).
#pragma once

#include <chrono>
#include <cstddef>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace photo::http {

class RateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  // rate <= 0: every Take succeeds (off). burst < 1 is taken as 1.
  RateLimiter(double rate, double burst);

  // Takes one request from `key`'s bucket. Returns 0 when allowed, else the
  // whole seconds until one request will be (for Retry-After, >= 1).
  int Take(std::string_view key, Clock::time_point now = Clock::now());

  bool enabled() const { return rate_ > 0; }
  size_t keys() const;

 private:
  struct Bucket {
    double tokens;
    Clock::time_point updated;
  };
  void SweepLocked(Clock::time_point now);

  const double rate_;
  const double burst_;
  mutable std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;
  Clock::time_point next_sweep_{};
};

}  // namespace photo::http
