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

#include "photo/core/status.h"
#include "photo/store/image_record.h"

namespace photo::store {

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
};

// Opens the store named by `url`: "sqlite:///abs/path.db", "sqlite://rel/path.db",
// "postgres://..." / "postgresql://...", or "memory://".
Result<std::unique_ptr<StatusStore>> OpenStore(const std::string& url);

}  // namespace photo::store
