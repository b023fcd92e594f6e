// Capped exponential back-off with jitter, for reconnects and publish retries.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <random>

namespace photo::broker::amqp {

// Delay n (0-based) is min(max, initial * 2^n), scaled by a uniform factor in
// [1 - jitter, 1 + jitter] so that many workers reconnecting after one broker
// restart do not arrive in lock-step. Not thread-safe.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max, double jitter = 0.25,
          std::uint64_t seed = std::random_device{}())
      : initial_(initial), max_(max), jitter_(jitter), rng_(seed) {}

  std::chrono::milliseconds Next() {
    const double base = std::min<double>(static_cast<double>(max_.count()),
                                         static_cast<double>(initial_.count()) *
                                             static_cast<double>(1ULL << std::min(attempt_, 30)));
    ++attempt_;
    std::uniform_real_distribution<double> f(1.0 - jitter_, 1.0 + jitter_);
    return std::chrono::milliseconds(static_cast<std::int64_t>(base * f(rng_)));
  }
  void Reset() { attempt_ = 0; }
  int attempts() const { return attempt_; }

 private:
  std::chrono::milliseconds initial_, max_;
  double jitter_;
  std::mt19937_64 rng_;
  int attempt_ = 0;
};

}  // namespace photo::broker::amqp
