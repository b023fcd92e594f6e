// StoreHashIndex: a HashIndex kept in step with the status store, so that
// every process (each worker, each API process) answers "which images look
// like this one" from memory without a query per stored image.
//
// The store stays the truth. On the first use the index reads every record
// through StatusStore::ScanChanged (by (updated_at, id)) and files the pHash
// of each one whose detect stage ran; later calls read only what changed
// since, re-reading `overlap` behind the newest stamp seen because a record
// can become visible with a stamp below one already read (the change feed
// does the same, feed/change_feed.h). Deleted records are not in any scan:
// answers are checked against the store and ids that are gone are dropped.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string_view>
#include <vector>

#include "photo/core/status.h"
#include "photo/similar/hash_index.h"
#include "photo/store/status_store.h"

namespace photo::similar {

// The default distance within which two pHashes are called near-duplicates
// (PHOTO_PIPELINE_DUPLICATE_DISTANCE). In similar_test, on seven real photos:
// resized, recompressed and watermarked copies measure 0-4 bits, copies
// cropped by 2% on each side 5-10; the closest two different photos 16, and
// a resized copy of one came within 12 of the other, so 12 would already
// call unrelated photos duplicates (docs/stages/detect.md, "Similar photos").
inline constexpr int kDefaultDuplicateDistance = 10;

struct StoreIndexOptions {
  std::chrono::milliseconds overlap{5000};
  // Calls within this long after a catch-up use the index as it is.
  std::chrono::milliseconds min_interval{200};
  int batch = 1000;  // records per ScanChanged call
};

class StoreHashIndex {
 public:
  explicit StoreHashIndex(store::StatusStore& store, StoreIndexOptions options = {});

  // Reads the records changed since the last catch-up (all of them the first
  // time) and files their hashes. A store that cannot scan (kUnimplemented)
  // is not an error: only Add()ed hashes are known then. Errors: the store's.
  Status CatchUp();

  // CatchUp (at most every min_interval), then the ids within max_distance
  // of `hash` except `exclude`, nearest first, at most `limit`, each checked
  // to still exist in the store.
  Result<std::vector<Match>> Similar(std::uint64_t hash, int max_distance, std::size_t limit,
                                     std::string_view exclude = {});

  // Files a hash this process has just computed (before the store's scan
  // would bring it).
  void Add(std::string_view id, std::uint64_t hash) { index_.Upsert(id, hash); }
  const HashIndex& index() const { return index_; }

 private:
  store::StatusStore& store_;
  StoreIndexOptions options_;
  HashIndex index_;
  std::mutex sync_mu_;
  store::ScanKey newest_;  // the largest (updated_at, id) read so far
  std::chrono::steady_clock::time_point last_sync_{};
  bool synced_once_ = false;
};

}  // namespace photo::similar
