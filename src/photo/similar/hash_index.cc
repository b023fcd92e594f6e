#include "photo/similar/hash_index.h"

#include <algorithm>
#include <bit>
#include <mutex>

namespace photo::similar {
namespace {

constexpr int kChunkBits = 16;
constexpr std::size_t kBuckets = std::size_t{1} << kChunkBits;

std::uint16_t Chunk(std::uint64_t hash, int c) {
  return static_cast<std::uint16_t>(hash >> (c * kChunkBits));
}

// All 16-bit masks ordered by popcount; prefix[k] = how many have <= k bits.
struct Masks {
  std::vector<std::uint16_t> masks;
  std::array<std::size_t, kChunkBits + 1> prefix{};
  Masks() {
    for (std::uint32_t m = 0; m < kBuckets; ++m) masks.push_back(static_cast<std::uint16_t>(m));
    std::stable_sort(masks.begin(), masks.end(), [](std::uint16_t a, std::uint16_t b) {
      return std::popcount(a) < std::popcount(b);
    });
    for (std::uint16_t m : masks) ++prefix[static_cast<std::size_t>(std::popcount(m))];
    for (std::size_t k = 1; k < prefix.size(); ++k) prefix[k] += prefix[k - 1];
  }
};
const Masks& AllMasks() {
  static const Masks m;
  return m;
}

}  // namespace

HashIndex::HashIndex() {
  for (auto& t : tables_) t.resize(kBuckets);
}

void HashIndex::Upsert(std::string_view id, std::uint64_t hash) {
  std::unique_lock lock(mu_);
  std::uint32_t slot;
  if (auto it = slot_of_.find(std::string(id)); it != slot_of_.end()) {
    slot = it->second;
    if (hashes_[slot] == hash) return;
    for (int c = 0; c < kChunks; ++c) std::erase(tables_[c][Chunk(hashes_[slot], c)], slot);
  } else {
    if (!free_.empty()) {
      slot = free_.back();
      free_.pop_back();
    } else {
      slot = static_cast<std::uint32_t>(hashes_.size());
      hashes_.push_back(0);
      ids_.emplace_back();
    }
    ids_[slot] = std::string(id);
    slot_of_.emplace(ids_[slot], slot);
  }
  hashes_[slot] = hash;
  for (int c = 0; c < kChunks; ++c) tables_[c][Chunk(hash, c)].push_back(slot);
}

bool HashIndex::Remove(std::string_view id) {
  std::unique_lock lock(mu_);
  auto it = slot_of_.find(std::string(id));
  if (it == slot_of_.end()) return false;
  const std::uint32_t slot = it->second;
  for (int c = 0; c < kChunks; ++c) std::erase(tables_[c][Chunk(hashes_[slot], c)], slot);
  slot_of_.erase(it);
  ids_[slot].clear();
  free_.push_back(slot);
  return true;
}

std::size_t HashIndex::size() const {
  std::shared_lock lock(mu_);
  return slot_of_.size();
}

std::vector<Match> HashIndex::Finish(std::vector<std::pair<int, std::uint32_t>>& hits,
                                     std::size_t limit, std::string_view exclude) const {
  // A hash found through several chunks appears once per chunk.
  std::sort(hits.begin(), hits.end(), [](const auto& a, const auto& b) { return a.second < b.second; });
  hits.erase(std::unique(hits.begin(), hits.end(),
                         [](const auto& a, const auto& b) { return a.second == b.second; }),
             hits.end());
  std::vector<Match> out;
  out.reserve(hits.size());
  for (const auto& [d, slot] : hits) {
    if (ids_[slot] != exclude) out.push_back({ids_[slot], d});
  }
  std::sort(out.begin(), out.end(), [](const Match& a, const Match& b) {
    return a.distance != b.distance ? a.distance < b.distance : a.id < b.id;
  });
  if (out.size() > limit) out.resize(limit);
  return out;
}

std::vector<Match> HashIndex::QueryByScan(std::uint64_t hash, int max_distance, std::size_t limit,
                                          std::string_view exclude) const {
  const int r = std::clamp(max_distance, 0, 64);
  std::shared_lock lock(mu_);
  std::vector<std::pair<int, std::uint32_t>> hits;
  for (std::uint32_t slot = 0; slot < hashes_.size(); ++slot) {
    const int d = std::popcount(hashes_[slot] ^ hash);
    if (d <= r && !ids_[slot].empty()) hits.emplace_back(d, slot);
  }
  return Finish(hits, limit, exclude);
}

std::vector<Match> HashIndex::Query(std::uint64_t hash, int max_distance, std::size_t limit,
                                    std::string_view exclude) const {
  const int r = std::clamp(max_distance, 0, 64);
  const int per_chunk = r / kChunks;
  const Masks& masks = AllMasks();
  {
    std::shared_lock lock(mu_);
    // Bucket visits and the hashes expected in them are random memory
    // accesses; a scan reads every hash in order. With the weights below
    // (measured with bench/similar_bench.cc: at 1,000,000 hashes the scan
    // wins from max_distance 16) the cheaper path is taken.
    constexpr std::size_t kProbeCost = 4, kCandidateCost = 8;
    const std::size_t probes =
        kChunks * masks.prefix[static_cast<std::size_t>(std::min(per_chunk, kChunkBits))];
    const std::size_t expected =
        kProbeCost * probes + kCandidateCost * probes * slot_of_.size() / kBuckets;
    if (per_chunk >= kChunkBits || expected >= hashes_.size()) {
      lock.unlock();
      return QueryByScan(hash, r, limit, exclude);
    }
    std::vector<std::pair<int, std::uint32_t>> hits;
    const std::size_t n_masks = masks.prefix[static_cast<std::size_t>(per_chunk)];
    for (int c = 0; c < kChunks; ++c) {
      const std::uint16_t q = Chunk(hash, c);
      const auto& table = tables_[c];
      for (std::size_t i = 0; i < n_masks; ++i) {
        for (std::uint32_t slot : table[static_cast<std::uint16_t>(q ^ masks.masks[i])]) {
          const int d = std::popcount(hashes_[slot] ^ hash);
          if (d <= r) hits.emplace_back(d, slot);
        }
      }
    }
    return Finish(hits, limit, exclude);
  }
}

}  // namespace photo::similar
