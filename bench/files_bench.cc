// What a durable write costs against a scratch one (core/files.h): one
// rendition-sized file (300 kB) written whole through a temp file and a
// rename, with the fsyncs of the file and its folder (durable) or without
// (scratch: a worker's copy on its way to object storage). Wall time, since
// an fsync mostly waits for the disk:
//
//   build/release/bench/photo_bench --benchmark_filter=WriteFileAtomic
#include <benchmark/benchmark.h>

#include <filesystem>
#include <string>

#include "photo/core/files.h"

namespace {

void BM_WriteFileAtomic(benchmark::State& state) {
  const auto durability = state.range(0) == 1 ? photo::Durability::kDurable : photo::Durability::kScratch;
  const auto dir = std::filesystem::temp_directory_path() / "photo-files-bench";
  const std::string bytes(300 * 1000, 'x');
  int i = 0;
  for (auto _ : state) {
    const auto path = dir / ("f" + std::to_string(i++ % 8) + ".jpg");
    if (!photo::WriteFileAtomic(path, bytes, durability).ok()) {
      state.SkipWithError("write failed");
      break;
    }
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_WriteFileAtomic)->Arg(1)->Arg(0)->ArgNames({"durable"})->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
