// MemoryStatusStore: a StatusStore held in this process's memory.
//
// For tests and `photo-pipeline process` (no database). Thread-safe: one mutex
// guards the map, so Update's read-modify-write is atomic with respect to
// every other call on the same object. Nothing is shared between processes and
// nothing survives the object.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include "photo/store/status_store.h"

namespace photo::store {

class MemoryStatusStore final : public StatusStore {
 public:
  MemoryStatusStore() = default;
  MemoryStatusStore(const MemoryStatusStore&) = delete;
  MemoryStatusStore& operator=(const MemoryStatusStore&) = delete;

  Status Create(const ImageRecord& record) override;
  Result<ImageRecord> Get(std::string_view id) override;
  // `mutate` runs with the store's mutex held: it must not call back into
  // this store.
  Result<ImageRecord> Update(std::string_view id,
                             const std::function<Status(ImageRecord&)>& mutate) override;
  Status Delete(std::string_view id) override;
  Result<std::map<std::string, std::int64_t>> CountByStatus() override;
  Status Ping() override { return Status::Ok(); }
  // Linear scans: fine for the tests and the single-image `process` command.
  Result<std::vector<ImageRecord>> ScanNewest(const ScanKey* after, std::string_view status,
                                              int limit) override;
  Result<std::vector<ImageRecord>> ScanChanged(const ScanKey& after, int limit) override;

 private:
  std::mutex mu_;
  std::map<std::string, ImageRecord, std::less<>> records_;
};

}  // namespace photo::store
