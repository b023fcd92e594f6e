#include "photo/worker/job_handler.h"

#include <time.h>

#include <chrono>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <thread>
#include <tuple>
#include <utility>

#include "photo/core/ids.h"
#include "photo/core/text.h"
#include "photo/store/record_json.h"
#include "photo/worker/staging.h"

namespace photo::worker {
namespace {

using Kind = Outcome::Kind;

// detections.duplicates lists at most this many, nearest first.
constexpr std::size_t kMaxDuplicates = 20;

double ThreadCpuMs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

const char* NextStage(const std::string& stage) {
  if (stage == broker::kResizeQueue) return broker::kWatermarkQueue;
  if (stage == broker::kWatermarkQueue) return broker::kDetectQueue;
  return nullptr;
}

// The message that follows a completed stage: the next job, or the event.
broker::OutgoingMessage NextMessage(const JobContext& ctx, const std::string& stage, const store::ImageRecord& rec) {
  if (const char* next = NextStage(stage)) {
    return broker::MakeJobMessage({rec.id, rec.filename, rec.original_path, next});
  }
  return MakeEvent(rec, ctx.signer);
}

Status Fail(const JobContext& ctx, const std::string& id, const std::string& stage,
            const Status& error, bool final, store::ImageRecord* out) {
  // Library text (libvips, OpenCV) can be long and multi-line: records and
  // events get it bounded (core/text.h).
  const std::string message = BoundedErrorText(error.message());
  auto r = ctx.store->Update(id, [&](store::ImageRecord& rec) {
    auto& st = rec.Stage(stage);
    st.error = store::ErrorInfo{stage, error.reason(), message};
    if (final) {
      st.state = "failed";
      st.finished_at_ms = NowUnixMillis();
      rec.status = "failed";
      rec.error = store::ErrorInfo{stage, error.reason(), message};
      rec.completed_at_ms = NowUnixMillis();
    } else {
      st.state = "retrying";
    }
    return Status::Ok();
  });
  if (!r) return r.error();
  if (out) *out = *r;
  return Status::Ok();
}

// The image was deleted while this job waited or ran: erase whatever of it
// is stored (this job's outputs included; DELETE has erased the rest or is
// about to), publish nothing.
Outcome ImageDeleted(const JobContext& ctx, const std::string& id) {
  Outcome o;
  const std::string folder = pipeline::ImageFolderKey(id);
  if (Status erased = storage::DeletePrefix(*ctx.blobs, folder); !erased.ok()) {
    o.kind = Kind::kRetry;
    o.error = erased.WithContext("erasing the files of deleted image " + id);
    return o;
  }
  o.image_deleted = true;
  return o;
}

Outcome StoreTrouble(const Status& s) {
  // The store is shared state: if it cannot be written, retry the whole job.
  Outcome o;
  o.kind = Kind::kRetry;
  o.error = s;
  return o;
}

// A store call that failed: the record gone means the image was deleted
// meanwhile; anything else is store trouble.
Outcome StoreFailure(const JobContext& ctx, const std::string& id, const Status& s) {
  if (s.code() == StatusCode::kNotFound) return ImageDeleted(ctx, id);
  return StoreTrouble(s);
}

// "<stage>:<number>" of a test-only variable; nullopt when unset or malformed.
std::optional<std::pair<std::string, int>> StageAndNumber(const char* var) {
  const char* v = std::getenv(var);
  if (v == nullptr) return std::nullopt;
  const std::string s(v);
  const auto colon = s.find(':');
  if (colon == std::string::npos) return std::nullopt;
  return std::make_pair(s.substr(0, colon), std::atoi(s.c_str() + colon + 1));
}

}  // namespace

FaultInjection FaultInjection::FromEnv() {
  FaultInjection f;
  if (auto fail = StageAndNumber("PHOTO_PIPELINE_FAULT_INJECT")) std::tie(f.stage, f.fail_attempts) = *fail;
  if (auto pause = StageAndNumber("PHOTO_PIPELINE_FAULT_PAUSE"); pause && pause->second > 0) {
    f.after_outputs = [stage = pause->first, ms = pause->second](const std::string& s, const std::string&) {
      if (s == stage) std::this_thread::sleep_for(std::chrono::milliseconds(ms));
    };
  }
  return f;
}

Status PipelineConfig::LoadFromEnv() {
  RETURN_IF_ERROR(resize.LoadFromEnv());
  RETURN_IF_ERROR(watermark.LoadFromEnv());
  RETURN_IF_ERROR(detect.LoadFromEnv());
  if (const char* v = std::getenv("PHOTO_PIPELINE_DUPLICATE_DISTANCE"); v && *v) {
    char* end = nullptr;
    const long n = std::strtol(v, &end, 10);
    if (*end != '\0' || n < 0 || n > 32) {
      return InvalidArgumentError("invalid_config", std::string("PHOTO_PIPELINE_DUPLICATE_DISTANCE='") +
                                                        v + "': expected 0..32");
    }
    duplicate_distance = static_cast<int>(n);
  }
  return Validate();
}

Status PipelineConfig::Validate() const {
  RETURN_IF_ERROR(resize.Validate());
  RETURN_IF_ERROR(watermark.Validate());
  if (duplicate_distance < 0 || duplicate_distance > 32) {
    return InvalidArgumentError("invalid_config", "PHOTO_PIPELINE_DUPLICATE_DISTANCE must be 0..32");
  }
  return detect.Validate();
}

broker::OutgoingMessage MakeEvent(const store::ImageRecord& rec, const signing::UrlSigner* signer) {
  std::string event_id = rec.id + ":" + rec.status;
  nlohmann::json renditions = store::RenditionsToJson(rec);
  if (signer != nullptr) signing::SignRenditionUrls(*signer, renditions, NowUnixMillis() / 1000);
  nlohmann::json j = {
      {"event_id", event_id},
      {"id", rec.id},
      {"filename", rec.filename},
      {"status", rec.status},
      {"content_status", rec.content_status ? nlohmann::json(*rec.content_status) : nullptr},
      {"renditions", std::move(renditions)},
      {"detections", rec.detections ? store::DetectionsToJson(*rec.detections) : nullptr},
      {"completed_at", FormatIso8601(rec.completed_at_ms.value_or(rec.updated_at_ms))},
      {"path", store::MainRenditionPath(rec)},
  };
  if (rec.error) {
    j["error"] = {{"stage", rec.error->stage}, {"code", rec.error->code},
                  {"message", rec.error->message}};
  }
  broker::OutgoingMessage m;
  m.exchange = broker::kEventsExchange;
  m.routing_key = "";
  m.body = j.dump();
  m.message_id = event_id;
  m.headers["event_id"] = event_id;
  return m;
}

Outcome HandleJob(const JobContext& ctx, const Delivery& d) {
  Outcome out;
  auto job = broker::ParseJob(d.body);
  if (!job || !IsValidImageId(job->id)) {
    out.kind = Kind::kPark;
    out.error = job ? InvalidArgumentError("bad_job", "invalid image id") : job.error();
    return out;
  }
  const std::string& id = job->id;
  const std::string& stage = d.stage;

  // 1. Count the attempt, or notice the work is already done.
  bool already_done = false;
  bool image_failed = false;
  int redeliveries = 0;
  auto started = ctx.store->Update(id, [&](store::ImageRecord& rec) {
    auto& st = rec.Stage(stage);
    if (rec.status == "failed") {
      if (!d.operator_replay || !rec.error || rec.error->stage != stage) {
        image_failed = true;
        return Status::Ok();
      }
      // Replayed by an operator (after fixing the cause): the image goes
      // back to processing and may still complete. Its "failed" event was
      // published; a "completed" one (another event_id) may follow.
      rec.status = "processing";
      rec.error.reset();
      rec.completed_at_ms.reset();
      st.state = "pending";
    }
    if (d.redelivered) ++st.redeliveries;
    redeliveries = st.redeliveries;
    if (st.state == "completed") {
      already_done = true;
      return Status::Ok();
    }
    ++st.attempts;
    st.state = "processing";
    if (!st.started_at_ms) st.started_at_ms = NowUnixMillis();
    if (rec.status == "uploaded") rec.status = "processing";
    return Status::Ok();
  });
  if (!started) {
    return StoreFailure(ctx, id, started.error());
  }
  if (image_failed) return out;  // another stage failed it for good: nothing to do
  if (already_done) {
    out.publish.push_back(NextMessage(ctx, stage, *started));
    out.redelivery_of_done_work = true;
    return out;
  }

  if (d.redelivered && redeliveries > ctx.max_redeliveries) {
    Status crash = InternalError(
        "crash_loop", "redelivered " + std::to_string(redeliveries) +
                          " times: the worker died while processing it each time");
    store::ImageRecord failed;
    Status s = Fail(ctx, id, stage, crash, /*final=*/true, &failed);
    if (!s.ok()) return StoreFailure(ctx, id, s);
    out.kind = Kind::kPark;
    out.error = crash;
    out.publish.push_back(MakeEvent(failed, ctx.signer));
    out.upload_to_final_ms = static_cast<double>(
        failed.completed_at_ms.value_or(failed.updated_at_ms) - failed.created_at_ms);
    return out;
  }

  // 2. Run the stage.
  const auto wall0 = std::chrono::steady_clock::now();
  const double cpu0 = ThreadCpuMs();
  store::ImageRecord rec = *started;
  Status result;
  std::vector<image::Rendition> renditions;
  std::optional<image::Detections> detections;

  const pipeline::Layout* layout = ctx.layout;
  std::unique_ptr<StagedJob> staged;
  if (ctx.fault.stage == stage && d.attempt <= ctx.fault.fail_attempts) {
    result = UnavailableError("injected_fault", "test fault injection, attempt " +
                                                    std::to_string(d.attempt));
  } else if (ctx.remote_blobs != nullptr) {
    auto fetched = StagedJob::Fetch(*ctx.remote_blobs, ctx.scratch_dir, stage, rec,
                                    ctx.config->resize.renditions, ctx.config->detect);
    if (fetched) {
      staged = std::move(*fetched);
      layout = &staged->layout();
    } else {
      result = fetched.error().WithContext("fetching the inputs of " + id);
    }
  }
  if (!result.ok()) {
    // injected fault or inputs unavailable: recorded below
  } else if (stage == broker::kResizeQueue) {
    auto r = pipeline::RunResize(ctx.config->resize, *layout, id);
    if (r) renditions = std::move(r->renditions);
    result = r.status();
  } else if (stage == broker::kWatermarkQueue) {
    auto r = pipeline::RunWatermark(ctx.config->watermark, *layout, id,
                                    ctx.config->resize.renditions, rec.renditions);
    if (r) renditions = std::move(*r);
    result = r.status();
  } else if (stage == broker::kDetectQueue) {
    auto r = pipeline::RunDetectAndCrop(ctx.config->detect, *layout, id, rec.renditions,
                                        ctx.config->resize.renditions);
    if (r && ctx.similar != nullptr) {
      // Earlier images that look the same; a store that cannot answer now
      // is retried like any store trouble.
      auto dups = ctx.similar->Similar(r->detections.phash, ctx.config->duplicate_distance,
                                       kMaxDuplicates, id);
      if (dups.ok()) {
        for (similar::Match& m : *dups) {
          r->detections.duplicates.push_back({std::move(m.id), m.distance});
        }
      } else {
        r = dups.error().WithContext("looking for duplicates of " + id);
      }
    }
    if (r) {
      detections = std::move(r->detections);
      // Face-aware crops join the renditions made so far.
      if (!r->crops.empty()) {
        renditions = rec.renditions;
        for (image::Rendition& c : r->crops) {
          std::erase_if(renditions, [&](const image::Rendition& x) { return x.name == c.name; });
          renditions.push_back(std::move(c));
        }
      }
    }
    result = r.status();
  } else {
    result = InvalidArgumentError("unknown_stage", "no stage named " + stage);
  }
  if (result.ok() && staged) {
    // Not uploaded for an image deleted meanwhile (its scratch copy goes
    // with `staged`).
    if (Result<store::ImageRecord> still = ctx.store->Get(id); !still) {
      return StoreFailure(ctx, id, still.error());
    }
    // Outputs are durable in blob storage before the record points at them.
    result = staged->PutOutputs().WithContext("storing the outputs of " + id);
  }
  if (result.ok() && ctx.fault.after_outputs) ctx.fault.after_outputs(stage, id);
  const double wall_ms =
      std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - wall0).count();
  const double cpu_ms = ThreadCpuMs() - cpu0;

  // 3. Record the outcome.
  if (!result.ok()) {
    bool final = !result.IsTransient() || d.last_attempt;
    store::ImageRecord failed;
    Status s = Fail(ctx, id, stage, result, final, &failed);
    if (!s.ok()) return StoreFailure(ctx, id, s);
    out.kind = final ? Kind::kPark : Kind::kRetry;
    out.error = result;
    if (final) {
      out.publish.push_back(MakeEvent(failed, ctx.signer));
      out.upload_to_final_ms =
          static_cast<double>(failed.completed_at_ms.value_or(failed.updated_at_ms) -
                              failed.created_at_ms);
    }
    return out;
  }

  // Paths in the record are relative to the data dir (the API serves them).
  const auto& base = layout->data_dir();
  for (auto& r : renditions) {
    std::filesystem::path p(r.path);
    if (p.is_absolute()) r.path = p.lexically_relative(base).string();
  }
  auto done = ctx.store->Update(id, [&](store::ImageRecord& rec2) {
    auto& st = rec2.Stage(stage);
    st.state = "completed";
    st.finished_at_ms = NowUnixMillis();
    st.duration_ms = wall_ms;
    st.cpu_ms = cpu_ms;
    st.error.reset();
    if (!renditions.empty()) rec2.renditions = renditions;
    if (detections) {
      rec2.content_status = detections->content_status;
      rec2.detections = detections;
    }
    if (!NextStage(stage)) {
      rec2.status = "completed";
      rec2.completed_at_ms = NowUnixMillis();
    }
    return Status::Ok();
  });
  // Deleted while the stage ran: its outputs must not outlive the record.
  if (!done) return StoreFailure(ctx, id, done.error());
  // Files this image's hash at once (the next detect job in this process may
  // be its copy); other processes get it from the store.
  if (ctx.similar != nullptr && detections) ctx.similar->Add(id, detections->phash);
  out.publish.push_back(NextMessage(ctx, stage, *done));
  if (!NextStage(stage) && done->completed_at_ms)
    out.upload_to_final_ms = static_cast<double>(*done->completed_at_ms - done->created_at_ms);
  return out;
}

}  // namespace photo::worker
