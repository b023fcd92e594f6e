// libFuzzer target: the probe/decode path an upload takes.
//
// Every input goes through image::ProbeBuffer with small limits; when the
// probe accepts it, image::MakeRenditions decodes it and encodes two small
// renditions. The contracts checked (beyond "no crash, no sanitizer report"):
//  - every refusal carries one of the reasons probe.h / resize.h document;
//  - an accepted probe respects the limits it was given;
//  - renditions are never upscaled, fit their long edge, and are non-empty
//    files of the requested format.
// A broken contract aborts, so libFuzzer saves the input like any crash.
//
// libvips runs with one worker thread (PHOTO_PIPELINE_VIPS_CONCURRENCY=1,
// unless set): deterministic and cheaper per input. At exit the refusal
// reasons seen are printed (stderr) for docs/FUZZING.md.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "photo/core/status.h"
#include "photo/image/probe.h"
#include "photo/image/resize.h"
#include "photo/image/types.h"
#include "photo/image/vips.h"

namespace {

using photo::image::Limits;
using photo::image::OutputFormat;
using photo::image::ProbeInfo;
using photo::image::RenditionSpec;

// Small caps: a bomb header is refused before decoding, anything accepted
// decodes in milliseconds, and every refusal is reachable (max_bytes is
// under scripts/fuzz.sh's -max_len of 256 KiB).
constexpr Limits kLimits{
    .max_bytes = 192u * 1024, .max_pixels = 4'000'000, .max_frames = 16, .max_dimension = 8192};

const std::vector<RenditionSpec>& Specs() {
  static const std::vector<RenditionSpec> specs = {
      {.name = "small", .long_edge = 64, .format = OutputFormat::kJpeg, .quality = 80},
      {.name = "tiny", .long_edge = 32, .format = OutputFormat::kWebp, .quality = 70},
  };
  return specs;
}

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "fuzz_probe: contract broken: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

// How often each outcome was seen; printed at exit.
std::mutex g_mu;
std::map<std::string, std::uint64_t>* g_outcomes = nullptr;

void Count(const std::string& outcome) {
  std::lock_guard<std::mutex> lock(g_mu);
  ++(*g_outcomes)[outcome];
}

void PrintOutcomes() {
  std::lock_guard<std::mutex> lock(g_mu);
  std::fprintf(stderr, "fuzz_probe outcomes:");
  for (const auto& [k, v] : *g_outcomes)
    std::fprintf(stderr, " %s=%llu", k.c_str(), static_cast<unsigned long long>(v));
  std::fprintf(stderr, "\n");
}

bool IsProbeReason(const std::string& r) {
  return r == "empty_file" || r == "unsupported_media_type" || r == "too_large" ||
         r == "too_many_pixels" || r == "too_many_frames" || r == "corrupt_image";
}

// Refusal messages reach API clients (415/413 bodies) and failure records:
// short, and about this input only (libvips' error buffer is process-wide).
void CheckMessage(const photo::Status& s) {
  if (s.message().size() > 2048) {
    Fail("a " + std::to_string(s.message().size()) +
         "-byte error message: " + s.message().substr(0, 400));
  }
}

void CheckProbe(const ProbeInfo& info, size_t size) {
  if (info.width <= 0 || info.height <= 0) Fail("accepted with a non-positive size");
  if (info.width > kLimits.max_dimension || info.height > kLimits.max_dimension) {
    Fail("accepted a side over max_dimension");
  }
  if (static_cast<std::uint64_t>(info.width) * static_cast<std::uint64_t>(info.height) >
      kLimits.max_pixels) {
    Fail("accepted more pixels than max_pixels");
  }
  if (info.frames < 1 || info.frames > kLimits.max_frames)
    Fail("accepted a frame count out of range");
  if (info.orientation < 1 || info.orientation > 8) Fail("orientation out of 1..8");
  if (info.bytes != size) Fail("ProbeInfo::bytes differs from the input size");
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** argv) {
  ::setenv("PHOTO_PIPELINE_VIPS_CONCURRENCY", "1", 0);
  g_outcomes = new std::map<std::string, std::uint64_t>();  // outlives static destructors
  photo::image::InitVips((*argv)[0]);
  if (!photo::image::ValidateRenditionSpecs(Specs()).ok()) Fail("bad rendition specs");
  std::atexit(PrintOutcomes);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);

  photo::Result<ProbeInfo> probe = photo::image::ProbeBuffer(bytes, kLimits);
  if (!probe) {
    const std::string& reason = probe.error().reason();
    if (!IsProbeReason(reason)) Fail("probe reason '" + reason + "': " + probe.error().ToString());
    CheckMessage(probe.error());
    // A pure function of (bytes, limits): the same refusal, word for word.
    photo::Result<ProbeInfo> again = photo::image::ProbeBuffer(bytes, kLimits);
    if (again || again.error().ToString() != probe.error().ToString()) {
      Fail("probing the same bytes twice gave different answers: '" + probe.error().ToString() +
           "' then '" + (again ? std::string("ok") : again.error().ToString()) + "'");
    }
    Count("probe:" + reason);
    return 0;
  }
  CheckProbe(*probe, size);

  photo::Result<photo::image::RenditionSet> set =
      photo::image::MakeRenditions(bytes, Specs(), kLimits);
  if (!set) {
    const std::string& reason = set.error().reason();
    // The probe already accepted these bytes: MakeRenditions probes them
    // again and must agree, so only decode/encode failures may remain.
    if (reason != "corrupt_image" && reason != "internal") {
      Fail("renditions reason '" + reason + "' after an accepted probe: " + set.error().ToString());
    }
    CheckMessage(set.error());
    Count("decode:" + reason);
    return 0;
  }
  if (set->renditions.size() != Specs().size()) Fail("wrong number of renditions");
  for (size_t i = 0; i < Specs().size(); ++i) {
    const auto& spec = Specs()[i];
    const auto& r = set->renditions[i];
    if (r.name != spec.name || r.format != spec.format) Fail("rendition out of spec order");
    if (r.width <= 0 || r.height <= 0) Fail("rendition with a non-positive size");
    if (r.width > spec.long_edge || r.height > spec.long_edge) Fail("rendition over its long edge");
    // Never upscaled: compare with the displayed (orientation-applied) size.
    const bool swap = probe->orientation >= 5;
    const int src_w = swap ? probe->height : probe->width;
    const int src_h = swap ? probe->width : probe->height;
    if (r.width > src_w || r.height > src_h) Fail("rendition upscaled");
    if (r.bytes.empty()) Fail("empty rendition file");
    const auto sniffed = photo::image::SniffFormat(r.bytes);
    const auto want = spec.format == OutputFormat::kJpeg ? photo::image::Format::kJpeg
                                                         : photo::image::Format::kWebp;
    if (!sniffed || *sniffed != want) Fail("rendition bytes are not the requested format");
  }
  Count("ok:" + std::string(photo::image::FormatName(probe->format)));
  return 0;
}
