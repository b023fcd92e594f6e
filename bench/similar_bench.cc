// Similar-photo queries over the in-memory pHash index (similar/hash_index.h)
// at 10,000 and 1,000,000 stored hashes: multi-index hashing against reading
// every hash (the reference, same run, same queries).
// Run: build/release/bench/photo_bench --benchmark_filter=Similar
#include <benchmark/benchmark.h>

#include <map>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "photo/similar/hash_index.h"

namespace {

using photo::similar::HashIndex;

struct Corpus {
  std::unique_ptr<HashIndex> index = std::make_unique<HashIndex>();
  std::vector<std::uint64_t> queries;  // near copies of stored hashes and unrelated ones
};

// Uniformly random hashes (pHashes of unrelated photos are close to that:
// different photos differ in ~half the bits); ids shaped like real ones.
const Corpus& CorpusOf(int n) {
  static std::map<int, Corpus> cache;
  auto [it, fresh] = cache.try_emplace(n);
  if (fresh) {
    std::mt19937_64 rng(7);
    std::vector<std::uint64_t> stored;
    for (int i = 0; i < n; ++i) {
      stored.push_back(rng());
      it->second.index->Upsert("20261205T000000Z-" + std::to_string(i), stored.back());
    }
    for (int q = 0; q < 256; ++q) {
      std::uint64_t h = stored[rng() % stored.size()];
      for (int b = 0; b < 6; ++b) h ^= std::uint64_t{1} << (rng() % 64);  // a near copy
      it->second.queries.push_back(q % 2 ? h : rng());                    // or no match
    }
  }
  return it->second;
}

void BM_SimilarQuery(benchmark::State& state, bool scan) {
  const Corpus& c = CorpusOf(static_cast<int>(state.range(0)));
  const int r = static_cast<int>(state.range(1));
  std::size_t i = 0, found = 0;
  for (auto _ : state) {
    const std::uint64_t q = c.queries[i++ % c.queries.size()];
    auto m = scan ? c.index->QueryByScan(q, r, 100) : c.index->Query(q, r, 100);
    found += m.size();
    benchmark::DoNotOptimize(m);
  }
  state.counters["found_per_query"] =
      benchmark::Counter(static_cast<double>(found) / static_cast<double>(state.iterations()));
}
BENCHMARK_CAPTURE(BM_SimilarQuery, multi_index, false)
    ->ArgsProduct({{10'000, 1'000'000}, {10, 16}})
    ->ArgNames({"stored", "max_distance"})
    ->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_SimilarQuery, scan, true)
    ->ArgsProduct({{10'000, 1'000'000}, {10}})
    ->ArgNames({"stored", "max_distance"})
    ->Unit(benchmark::kMillisecond);

}  // namespace
