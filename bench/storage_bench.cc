// Blob store PUT/GET of a 200 kB object (an upload's original), local files
// against S3, in one run so the two are comparable:
//
//   scripts/s3.sh start && set -a && . var/s3/env && set +a
//   build/release/bench/photo_bench --benchmark_filter=BM_Blob
//
// The S3 variants are skipped when PHOTO_PIPELINE_STORAGE is not s3://...
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <random>
#include <string>

#include "photo/storage/storage_factory.h"

namespace {

using photo::storage::BlobStore;

constexpr std::size_t kObjectBytes = 200 * 1000;

const std::string& Payload() {
  static const std::string bytes = [] {
    std::mt19937 rng(1);
    std::string s(kObjectBytes, '\0');
    for (char& c : s) c = static_cast<char>(rng() & 0xff);
    return s;
  }();
  return bytes;
}

// One store per kind for the whole run: S3 keeps its connections pooled.
BlobStore* Store(bool s3) {
  static std::unique_ptr<BlobStore> local = [] {
    auto dir = std::filesystem::temp_directory_path() / "photo-storage-bench";
    return std::move(photo::storage::OpenBlobStore("", dir).value());
  }();
  static std::unique_ptr<BlobStore> remote = []() -> std::unique_ptr<BlobStore> {
    const char* url = std::getenv("PHOTO_PIPELINE_STORAGE");
    if (url == nullptr || std::string(url).rfind("s3://", 0) != 0) return nullptr;
    auto r = photo::storage::OpenBlobStore(url, ".");
    return r ? std::move(*r) : nullptr;
  }();
  return s3 ? remote.get() : local.get();
}

void BM_BlobPut(benchmark::State& state) {
  BlobStore* store = Store(state.range(0) == 1);
  if (store == nullptr) {
    state.SkipWithError("set PHOTO_PIPELINE_STORAGE=s3://... and the S3 settings");
    return;
  }
  static std::atomic<int> next{0};
  for (auto _ : state) {
    const std::string key = "bench/put/" + std::to_string(next++ % 5000);
    if (!store->Put(key, Payload()).ok()) {
      state.SkipWithError("put failed");
      break;
    }
  }
  state.SetItemsProcessed(state.iterations());
  state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(kObjectBytes));
  state.SetLabel(state.range(0) == 1 ? "s3" : "local (fsync)");
}

void BM_BlobGet(benchmark::State& state) {
  BlobStore* store = Store(state.range(0) == 1);
  if (store == nullptr || !store->Put("bench/get", Payload()).ok()) {
    state.SkipWithError("no store");
    return;
  }
  std::size_t n = 0;
  for (auto _ : state) {
    auto s = store->Get("bench/get", [&](std::string_view c) {
      n += c.size();
      return photo::Status::Ok();
    });
    if (!s.ok()) {
      state.SkipWithError("get failed");
      break;
    }
  }
  benchmark::DoNotOptimize(n);
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(state.range(0) == 1 ? "s3" : "local");
}

BENCHMARK(BM_BlobPut)->ArgName("s3")->Arg(0)->Arg(1)->Threads(1)->Threads(16)->UseRealTime();
BENCHMARK(BM_BlobGet)->ArgName("s3")->Arg(0)->Arg(1)->Threads(1)->UseRealTime();

}  // namespace
