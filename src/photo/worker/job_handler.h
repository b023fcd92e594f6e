// What a worker does with one job, independent of how the job arrived.
//
// The AMQP consumer loop (broker/amqp) and `photo-pipeline process` both call
// HandleJob; it reads and writes the status store and the data directory and
// returns what must be published before the job may be acknowledged. With
// remote blob storage its outputs are stored before it returns. It never
// talks to the broker itself, so it is testable with a memory store.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "photo/broker/messages.h"
#include "photo/broker/publisher.h"
#include "photo/core/status.h"
#include "photo/pipeline/detect_stage.h"
#include "photo/pipeline/layout.h"
#include "photo/pipeline/resize_stage.h"
#include "photo/pipeline/watermark_stage.h"
#include "photo/signing/url_signer.h"
#include "photo/similar/store_index.h"
#include "photo/storage/blob_store.h"
#include "photo/store/status_store.h"

namespace photo::worker {

struct PipelineConfig {
  pipeline::ResizeConfig resize;
  pipeline::WatermarkConfig watermark;
  pipeline::DetectConfig detect;
  // PHOTO_PIPELINE_DUPLICATE_DISTANCE (0..32): an earlier image whose pHash
  // is within this many bits is listed in detections.duplicates.
  int duplicate_distance = similar::kDefaultDuplicateDistance;

  Status LoadFromEnv();
  Status Validate() const;
};

// Test-only fault injection (PHOTO_PIPELINE_FAULT_INJECT="<stage>:<n>"): the
// first n attempts of every job in <stage> fail with a transient error.
// PHOTO_PIPELINE_FAULT_PAUSE="<stage>:<ms>": every job of <stage> waits this
// long once its outputs are stored and before it records them, so that a
// test can delete the image while the job is in flight.
struct FaultInjection {
  std::string stage;
  int fail_attempts = 0;
  // Called with (stage, id) between storing the outputs and recording them.
  std::function<void(const std::string&, const std::string&)> after_outputs = {};
  static FaultInjection FromEnv();
};

struct JobContext {
  store::StatusStore* store = nullptr;
  const pipeline::Layout* layout = nullptr;
  const PipelineConfig* config = nullptr;
  FaultInjection fault;
  // A job the broker redelivered this many times for one stage (its worker
  // died mid-job each time: OOM, a decoder crash) is parked as crash_loop
  // instead of taking down worker after worker. Crashes never reach the retry
  // counter, so this is the backstop. PHOTO_PIPELINE_MAX_REDELIVERIES.
  int max_redeliveries = 5;
  // Remote blob storage (S3): each job's inputs are fetched into a folder of
  // its own under `scratch_dir`, the stage runs there and its outputs are
  // put back before the record is updated (worker/staging.h). Null: the
  // stages read and write `layout`'s data dir in place (local storage).
  storage::BlobStore* remote_blobs = nullptr;
  std::filesystem::path scratch_dir = {};
  // The store of the images' files, through which a deleted image's are
  // erased: remote_blobs, or a local store over `layout`'s data dir (as
  // ApiContext::blobs is for the API). Must be set. Not owned.
  storage::BlobStore* blobs = nullptr;
  // The pHash index over the store: the detect stage lists the earlier
  // near-duplicates it finds there and files its own hash. Null: no
  // duplicates are looked for (detections.duplicates stays empty).
  similar::StoreHashIndex* similar = nullptr;
  // PHOTO_PIPELINE_SIGNING_KEY on workers: the rendition URLs of the events
  // this worker publishes are signed (with expiry), as the API signs those
  // of records, so a listener can fetch them when renditions are private.
  // Null or disabled: plain URLs.
  const signing::UrlSigner* signer = nullptr;
};

struct Delivery {
  std::string stage;      // the queue it came from
  std::string body;       // job JSON
  int attempt = 1;        // 1 for the first delivery through the retry path
  bool redelivered = false;
  bool last_attempt = false;  // no retry left: a transient failure parks
  // An operator moved this job back from the parking queue (x-replays): if
  // it is the job whose failure failed the image, the image is opened again
  // and the stage runs, instead of the no-op a stray job for a failed image
  // gets.
  bool operator_replay = false;
};

struct Outcome {
  enum class Kind {
    kAck,    // done (or nothing to do): publish `publish`, then ack
    kRetry,  // transient failure: retry later with back-off
    kPark,   // permanent failure (or last attempt): park with `error`, then ack
  };
  Kind kind = Kind::kAck;
  std::vector<broker::OutgoingMessage> publish;  // next job or the final event
  Status error;                                  // for kRetry / kPark
  // Set when this job took the image to completed/failed: upload-to-outcome
  // time, for the latency histogram.
  std::optional<double> upload_to_final_ms;
  bool redelivery_of_done_work = false;          // nothing was recomputed
  // The image's record was gone (DELETE /images/{id} while the job waited
  // or ran): what it had stored was erased and nothing is published.
  bool image_deleted = false;
};

// Runs `delivery.stage` for the job. Idempotent: a redelivered job whose stage
// already completed does no work again and re-emits the same next message
// (the same message_id / event_id); attempts and redeliveries are counted.
// A job whose image has no record (deleted, or an upload the API refused)
// ends without leaving files: the record is checked before the stage runs,
// before remote outputs are uploaded and when the outputs are recorded; once
// it is missing, every blob of the image is erased (through ctx.blobs)
// and the job is acked with nothing published (kRetry if the erasure failed).
Outcome HandleJob(const JobContext& ctx, const Delivery& delivery);

// The event for `record` reaching completed or failed: published to
// processed_images with message_id == event_id == "<id>:<status>". With an
// enabled `signer` its rendition URLs are signed (valid from now).
broker::OutgoingMessage MakeEvent(const store::ImageRecord& record, const signing::UrlSigner* signer = nullptr);

}  // namespace photo::worker
