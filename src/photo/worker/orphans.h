// Blobs of images that have no status record: what an upload leaves behind
// when it is refused after its original was stored (the record or the
// broker failed) and the immediate delete failed too, e.g. because the store
// went away at that moment. `photo-pipeline sweep` removes them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "photo/core/status.h"
#include "photo/storage/blob_store.h"
#include "photo/store/status_store.h"

namespace photo::worker {

struct SweepReport {
  int images_seen = 0;
  std::vector<std::string> orphan_ids;  // no record, every blob older than the minimum age
  int blobs_deleted = 0;
};

// Lists images/, and for each image id whose every blob is older than
// `min_age_ms` and whose record does not exist, deletes its blobs (unless
// `dry_run`). The age keeps it away from an upload in flight, whose original
// is stored a moment before its record. Errors: the store's or the blob
// store's, as they come.
Result<SweepReport> SweepOrphans(storage::BlobStore& blobs, store::StatusStore& store,
                                 std::int64_t now_unix_ms, std::int64_t min_age_ms, bool dry_run);

}  // namespace photo::worker
