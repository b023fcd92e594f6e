#include "photo/similar/store_index.h"

#include <algorithm>
#include <tuple>

namespace photo::similar {

StoreHashIndex::StoreHashIndex(store::StatusStore& store, StoreIndexOptions options)
    : store_(store), options_(options) {}

Status StoreHashIndex::CatchUp() {
  std::lock_guard lock(sync_mu_);
  const auto now = std::chrono::steady_clock::now();
  if (synced_once_ && now - last_sync_ < options_.min_interval) return Status::Ok();
  store::ScanKey from;
  if (synced_once_) from.ms = newest_.ms - options_.overlap.count();
  while (true) {
    auto scanned = store_.ScanChanged(from, options_.batch);
    if (!scanned.ok() && scanned.error().code() == StatusCode::kUnimplemented) {
      // A store that cannot scan (the memory store of `process`): only the
      // hashes this process files itself are known.
      synced_once_ = true;
      last_sync_ = now;
      return Status::Ok();
    }
    if (!scanned.ok()) return scanned.error();
    std::vector<store::ImageRecord> batch = std::move(*scanned);
    for (const store::ImageRecord& r : batch) {
      const bool hashed =
          r.detections && std::find(r.detections->checks_ran.begin(),
                                    r.detections->checks_ran.end(),
                                    "phash") != r.detections->checks_ran.end();
      if (hashed && r.status != "failed") {
        index_.Upsert(r.id, r.detections->phash);
      } else if (r.status == "failed") {
        index_.Remove(r.id);
      }
      if (std::tie(r.updated_at_ms, r.id) > std::tie(newest_.ms, newest_.id)) {
        newest_ = {r.updated_at_ms, r.id};
      }
    }
    if (batch.size() < static_cast<std::size_t>(options_.batch)) break;
    from = {batch.back().updated_at_ms, batch.back().id};
  }
  synced_once_ = true;
  last_sync_ = now;
  return Status::Ok();
}

Result<std::vector<Match>> StoreHashIndex::Similar(std::uint64_t hash, int max_distance,
                                                   std::size_t limit, std::string_view exclude) {
  RETURN_IF_ERROR(CatchUp());
  // Ask for a few more than `limit`: some may have been deleted.
  std::vector<Match> found = index_.Query(hash, max_distance, limit + 8, exclude);
  std::vector<Match> out;
  for (Match& m : found) {
    if (out.size() >= limit) break;
    auto rec = store_.Get(m.id);
    if (!rec.ok() && rec.error().code() == StatusCode::kNotFound) {
      index_.Remove(m.id);
      continue;
    }
    if (!rec.ok()) return rec.error();
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace photo::similar
