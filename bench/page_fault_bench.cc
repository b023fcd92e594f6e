// What a page fault costs on this machine: the price a process pays for every
// byte of memory it has not touched before. A memstore OSD pays it for every
// stored byte, which is why scripts/s3.sh puts the Ceph daemons on transparent
// huge pages (docs/storage.md). Reference in the same run: writing the same
// amount to memory already faulted in.
//
//   build/release/bench/photo_bench --benchmark_filter=PageFault
#include <sys/mman.h>

#include <chrono>
#include <cstddef>
#include <cstring>

#include <benchmark/benchmark.h>

namespace {

constexpr std::size_t kBytes = 64u << 20;
constexpr std::size_t kPage = 4096;

void TouchEveryPage(char* p) {
  for (std::size_t i = 0; i < kBytes; i += kPage) p[i] = 1;
  benchmark::ClobberMemory();
}

// Times one pass over 64 MB; reports microseconds per 4 KB page.
double TimedTouch(char* p) {
  const auto t0 = std::chrono::steady_clock::now();
  TouchEveryPage(p);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void Report(benchmark::State& state, double seconds) {
  const double pages = static_cast<double>(state.iterations()) * static_cast<double>(kBytes / kPage);
  state.counters["us_per_4KB"] = seconds * 1e6 / pages;
}

// Fresh anonymous memory each iteration; arg 1 asks for huge pages. The
// kernel may hand back pages freed a moment ago, as it would to a daemon
// whose heap grows.
void BM_PageFaultFresh(benchmark::State& state) {
  const bool huge = state.range(0) == 1;
  double total = 0;
  for (auto _ : state) {
    void* m = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
      state.SkipWithError("mmap failed");
      break;
    }
    if (huge) madvise(m, kBytes, MADV_HUGEPAGE);
    const double s = TimedTouch(static_cast<char*>(m));
    state.SetIterationTime(s);
    total += s;
    munmap(m, kBytes);
  }
  Report(state, total);
}
BENCHMARK(BM_PageFaultFresh)->Arg(0)->Arg(1)->ArgNames({"huge"})->Unit(benchmark::kMillisecond)->UseManualTime();

// The reference: the same writes to memory faulted in already.
void BM_PageFaultReference_Resident(benchmark::State& state) {
  void* m = mmap(nullptr, kBytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    state.SkipWithError("mmap failed");
    return;
  }
  std::memset(m, 0, kBytes);
  double total = 0;
  for (auto _ : state) {
    const double s = TimedTouch(static_cast<char*>(m));
    state.SetIterationTime(s);
    total += s;
  }
  Report(state, total);
  munmap(m, kBytes);
}
BENCHMARK(BM_PageFaultReference_Resident)->Unit(benchmark::kMillisecond)->UseManualTime();

}  // namespace
