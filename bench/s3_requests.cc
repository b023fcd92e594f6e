// CPU that the Ceph daemons behind an S3 gateway spend per request, for each
// kind of request the pipeline makes, through the project's own S3 adapter
// (keep-alive connections, Content-MD5 on every PUT):
//
//   photo_s3_requests --pids rgw=PID,osd=PID,mon=PID [--count 200]
//                     [--concurrency 8] [--idle-s 10] [--tag NAME]
//
// The store comes from the environment, as the services read it
// (PHOTO_PIPELINE_STORAGE=s3://..., PHOTO_PIPELINE_S3_ENDPOINT, AWS_*: the
// `env` file scripts/s3.sh writes). Phases, each of --count requests at
// --concurrency threads, under a key prefix of their own (bench-s3/<tag>/):
//   put200k   PUT of 200,000 bytes (an upload's original as bench.py sends it)
//   put1500k  PUT of 1,500,000 bytes (a camera photo's original)
//   get200k / get1500k  GET of those objects, whole
//   range256k ranged GET of the first 256 KiB of the large ones (what a
//             stage that reads a JPEG's header fetches)
//   list      LIST of a prefix holding 5 keys (an image's folder)
//   delete    DELETE of every object written above
//   idle      no request for --idle-s seconds: the daemons' background work
// One line per phase: CPU ms per request (idle: per second) of each daemon,
// read from /proc/<pid>/stat (all threads, user + system) before and after,
// and of this client (getrusage). CPU per request stays meaningful on a
// loaded machine; the requests/s printed alongside do not.
#include <sys/resource.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "photo/storage/storage_factory.h"

namespace {

using photo::storage::BlobStore;
using Clock = std::chrono::steady_clock;

struct Daemon {
  std::string name;
  long pid = 0;
};

// utime + stime of every thread of `pid`, in ms; -1 when it is gone.
double ProcessCpuMs(long pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) return -1;
  // Fields after the command name, which is in parentheses and may hold spaces.
  std::istringstream rest(line.substr(line.rfind(')') + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) * 1000.0 / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double SelfCpuMs() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto ms = [](const timeval& t) {
    return static_cast<double>(t.tv_sec) * 1000.0 + static_cast<double>(t.tv_usec) / 1000.0;
  };
  return ms(u.ru_utime) + ms(u.ru_stime);
}

std::string Bytes(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng() & 0xff);
  return s;
}

struct Options {
  std::vector<Daemon> daemons;
  int count = 200;
  int concurrency = 8;
  int idle_s = 10;
  std::string tag = "run";
};

class Phases {
 public:
  Phases(BlobStore& store, Options opt) : store_(store), opt_(std::move(opt)) {}

  // Runs `one(i)` for i in [0, n) on opt_.concurrency threads; false when a
  // request failed (the failure is printed).
  bool Run(const std::string& phase, int n, const std::function<photo::Status(int)>& one) {
    std::vector<double> before;
    for (const auto& d : opt_.daemons) before.push_back(ProcessCpuMs(d.pid));
    const double self_before = SelfCpuMs();
    const auto start = Clock::now();
    std::atomic<int> next{0};
    std::atomic<bool> failed{false};
    std::vector<std::thread> threads;
    for (int t = 0; t < opt_.concurrency; ++t) {
      threads.emplace_back([&] {
        for (int i = next++; i < n && !failed; i = next++) {
          if (auto s = one(i); !s.ok()) {
            if (!failed.exchange(true)) {
              std::fprintf(stderr, "%s #%d: %s\n", phase.c_str(), i, s.ToString().c_str());
            }
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    Report(phase, n, before, self_before, start);
    return !failed;
  }

  void Idle() {
    std::vector<double> before;
    for (const auto& d : opt_.daemons) before.push_back(ProcessCpuMs(d.pid));
    const auto start = Clock::now();
    std::this_thread::sleep_for(std::chrono::seconds(opt_.idle_s));
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("tag=%s phase=idle unit=per_s wall_s=%.2f", opt_.tag.c_str(), seconds);
    for (std::size_t i = 0; i < opt_.daemons.size(); ++i) {
      std::printf(" %s=%.3f", opt_.daemons[i].name.c_str(),
                  (ProcessCpuMs(opt_.daemons[i].pid) - before[i]) / seconds);
    }
    std::printf("\n");
    std::fflush(stdout);
  }

 private:
  void Report(const std::string& phase, int n, const std::vector<double>& before,
              double self_before, Clock::time_point start) {
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    std::printf("tag=%s phase=%s unit=per_request n=%d wall_s=%.2f per_s=%.1f", opt_.tag.c_str(),
                phase.c_str(), n, seconds, n / seconds);
    double ceph = 0;
    for (std::size_t i = 0; i < opt_.daemons.size(); ++i) {
      const double ms = (ProcessCpuMs(opt_.daemons[i].pid) - before[i]) / n;
      ceph += ms;
      std::printf(" %s=%.3f", opt_.daemons[i].name.c_str(), ms);
    }
    std::printf(" ceph=%.3f client=%.3f\n", ceph, (SelfCpuMs() - self_before) / n);
    std::fflush(stdout);
  }

  BlobStore& store_;
  Options opt_;
};

bool ParseDaemons(const std::string& spec, std::vector<Daemon>* out) {
  std::istringstream in(spec);
  std::string item;
  while (std::getline(in, item, ',')) {
    const auto eq = item.find('=');
    if (eq == std::string::npos) return false;
    Daemon d{item.substr(0, eq), std::atol(item.c_str() + eq + 1)};
    if (d.pid <= 0 || ProcessCpuMs(d.pid) < 0) return false;
    out->push_back(d);
  }
  return !out->empty();
}

int Usage() {
  std::fprintf(stderr,
               "usage: photo_s3_requests --pids name=PID[,name=PID...] [--count N]"
               " [--concurrency N] [--idle-s S] [--tag NAME]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  Options opt;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--pids") {
      if (!ParseDaemons(value, &opt.daemons)) return Usage();
    } else if (flag == "--count") {
      opt.count = std::atoi(value.c_str());
    } else if (flag == "--concurrency") {
      opt.concurrency = std::atoi(value.c_str());
    } else if (flag == "--idle-s") {
      opt.idle_s = std::atoi(value.c_str());
    } else if (flag == "--tag") {
      opt.tag = value;
    } else {
      return Usage();
    }
  }
  if (argc % 2 == 0 || opt.daemons.empty() || opt.count < 1 || opt.concurrency < 1) {
    return Usage();
  }
  const char* env_url = std::getenv("PHOTO_PIPELINE_STORAGE");
  const std::string url = env_url == nullptr ? "" : env_url;
  if (url.rfind("s3://", 0) != 0) {
    std::fprintf(stderr, "needs PHOTO_PIPELINE_STORAGE=s3://... and the S3 settings\n");
    return 2;
  }
  auto opened = photo::storage::OpenCheckedBlobStore(url, ".");
  if (!opened) {
    std::fprintf(stderr, "%s\n", opened.error().ToString().c_str());
    return 2;
  }
  BlobStore& store = **opened;

  const std::string base = "bench-s3/" + opt.tag + "/";
  const std::string small = Bytes(200'000, 1), large = Bytes(1'500'000, 2), tiny = Bytes(1'000, 3);
  auto key = [&](const char* kind, int i) { return base + kind + "/" + std::to_string(i); };
  auto drain = [](std::string_view) { return photo::Status::Ok(); };
  constexpr int kListPrefixes = 20, kKeysPerPrefix = 5;
  auto list_key = [&](int i) {
    return base + "folders/" + std::to_string(i / kKeysPerPrefix) + "/" +
           std::to_string(i % kKeysPerPrefix);
  };

  Phases p(store, opt);
  const int n = opt.count;
  bool ok = p.Run("put200k", n, [&](int i) { return store.Put(key("s", i), small); }) &&
            p.Run("put1500k", n, [&](int i) { return store.Put(key("l", i), large); }) &&
            p.Run("get200k", n, [&](int i) { return store.Get(key("s", i), drain); }) &&
            p.Run("get1500k", n, [&](int i) { return store.Get(key("l", i), drain); }) &&
            p.Run("range256k", n,
                  [&](int i) {
                    return store.Get(key("l", i), drain, photo::storage::ByteRange{0, 262'143});
                  }) &&
            p.Run("setup-list", kListPrefixes * kKeysPerPrefix,
                  [&](int i) { return store.Put(list_key(i), tiny); }) &&
            p.Run("list", n, [&](int i) {
              auto r = store.List(base + "folders/" + std::to_string(i % kListPrefixes) + "/");
              if (!r) return r.status();
              return r->size() == kKeysPerPrefix
                         ? photo::Status::Ok()
                         : photo::InvalidArgumentError("bad_list", "wrong number of keys");
            });
  // Deletes run even after a failure, so that a broken run leaves less behind.
  ok = p.Run("delete", 2 * n, [&](int i) {
    return store.Delete(i < n ? key("s", i) : key("l", i - n));
  }) && ok;
  (void)p.Run("cleanup", kListPrefixes * kKeysPerPrefix,
              [&](int i) { return store.Delete(list_key(i)); });
  if (ok) p.Idle();
  return ok ? 0 : 1;
}
