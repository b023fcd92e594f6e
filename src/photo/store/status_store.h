// StatusStore: durable per-image status, shared by the API and every worker
// process. Implementations: SQLite (embedded default), PostgreSQL, memory.
//
// All methods are safe to call from many threads and many processes at once.
// Each Update is one transaction: concurrent updates to the same id
// serialise; none is lost.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "photo/core/status.h"
#include "photo/store/image_record.h"

namespace photo::store {

// Position of a record in an ordered scan: the listing orders by
// (created_at_ms, id) descending, the change feed by (updated_at_ms, id)
// ascending. Keyset positions stay valid while records come and go.
struct ScanKey {
  std::int64_t ms = 0;
  std::string id;
};

class StatusStore {
 public:
  virtual ~StatusStore() = default;

  // kAlreadyExists if the id exists; kUnavailable if the store cannot be reached.
  virtual Status Create(const ImageRecord& record) = 0;

  // kNotFound for an unknown id.
  virtual Result<ImageRecord> Get(std::string_view id) = 0;

  // Atomic read-modify-write: loads the record, calls `mutate`, stores the
  // result and sets updated_at_ms. If `mutate` returns an error nothing is
  // written and that error is returned. Returns the stored record.
  virtual Result<ImageRecord> Update(std::string_view id,
                                     const std::function<Status(ImageRecord&)>& mutate) = 0;

  // Removes the record (used to roll back an upload the broker refused).
  // OK if it did not exist.
  virtual Status Delete(std::string_view id) = 0;

  // Number of records per status ("uploaded", "processing", ...).
  virtual Result<std::map<std::string, std::int64_t>> CountByStatus() = 0;

  // Cheap reachability check for /readyz.
  virtual Status Ping() = 0;

  // Up to `limit` records, newest first (created_at_ms DESC, id DESC),
  // strictly after `after` (nullptr: from the newest), only those whose
  // status is `status` (empty: any). The GET /images listing pages through
  // this (store/listing.h). The default answers kUnimplemented, so a store
  // written for tests need not list.
  virtual Result<std::vector<ImageRecord>> ScanNewest(const ScanKey* after,
                                                      std::string_view status, int limit);

  // Up to `limit` records whose (updated_at_ms, id) is strictly greater than
  // `after`, in that order: the change feed behind GET /events. Because
  // updated_at is stamped before a transaction commits, a record can become
  // visible with a key below one already read: readers re-scan a short
  // window behind their position (feed/change_feed.h). Default kUnimplemented.
  virtual Result<std::vector<ImageRecord>> ScanChanged(const ScanKey& after, int limit);
};

// Opens the store named by `url`: "sqlite:///abs/path.db", "sqlite://rel/path.db",
// "postgres://..." / "postgresql://...", or "memory://".
Result<std::unique_ptr<StatusStore>> OpenStore(const std::string& url);

}  // namespace photo::store
