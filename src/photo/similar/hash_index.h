// HashIndex: the images' 64-bit perceptual hashes in memory, searchable by
// Hamming distance ("which stored hashes are within N bits of this one?").
//
// Multi-index hashing (Norouzi, Punjani, Fleet, "Fast Search in Hamming Space
// with Multi-Index Hashing", CVPR 2012): each hash is cut into 4 chunks of 16
// bits and filed in 4 tables under each chunk's value. Two hashes within r
// bits agree within floor(r/4) bits on at least one chunk (pigeonhole), so a
// query looks up, per chunk, every 16-bit value within floor(r/4) bits of its
// own chunk and checks only the hashes filed there. With r = 10 that is
// 4 x 137 buckets, ~N/480 candidates for N random hashes. When the radius is
// so large that the lookups would cost more than reading every hash, the
// query scans instead (both paths give the same answer).
// bench/similar_bench.cc measures both at 10,000 and 1,000,000 hashes.
//
// Thread-safe: queries share a lock, updates take it exclusively.
#pragma once

#include <array>
#include <cstdint>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace photo::similar {

struct Match {
  std::string id;
  int distance = 0;  // Hamming distance, 0..64
  bool operator==(const Match&) const = default;
};

class HashIndex {
 public:
  HashIndex();

  // Files `id` under `hash`, replacing any hash it had.
  void Upsert(std::string_view id, std::uint64_t hash);
  // False when `id` was not there.
  bool Remove(std::string_view id);
  std::size_t size() const;

  // Every id within `max_distance` (clamped to 0..64) bits of `hash`,
  // except `exclude`, nearest first (ties by id), at most `limit`.
  std::vector<Match> Query(std::uint64_t hash, int max_distance, std::size_t limit,
                           std::string_view exclude = {}) const;

  // The same answer by reading every hash: the reference the tests and the
  // benchmark compare against.
  std::vector<Match> QueryByScan(std::uint64_t hash, int max_distance, std::size_t limit,
                                 std::string_view exclude = {}) const;

 private:
  static constexpr int kChunks = 4;
  using Bucket = std::vector<std::uint32_t>;  // slots

  std::vector<Match> Finish(std::vector<std::pair<int, std::uint32_t>>& hits, std::size_t limit,
                            std::string_view exclude) const;

  mutable std::shared_mutex mu_;
  std::vector<std::uint64_t> hashes_;  // by slot
  std::vector<std::string> ids_;       // by slot; "" = free slot
  std::vector<std::uint32_t> free_;
  std::unordered_map<std::string, std::uint32_t> slot_of_;
  std::array<std::vector<Bucket>, kChunks> tables_;  // 65536 buckets each
};

}  // namespace photo::similar
