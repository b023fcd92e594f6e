#include "photo/store/memory_store.h"

#include <algorithm>

#include "photo/core/ids.h"

namespace photo::store {

Status MemoryStatusStore::Create(const ImageRecord& record) {
  std::lock_guard lock(mu_);
  if (!records_.try_emplace(record.id, record).second)
    return {StatusCode::kAlreadyExists, "already_exists", "image " + record.id + " exists"};
  return Status::Ok();
}

Result<ImageRecord> MemoryStatusStore::Get(std::string_view id) {
  std::lock_guard lock(mu_);
  auto it = records_.find(id);
  if (it == records_.end()) return NotFoundError("not_found", "no image " + std::string(id));
  return it->second;
}

Result<ImageRecord> MemoryStatusStore::Update(std::string_view id,
                                              const std::function<Status(ImageRecord&)>& mutate) {
  std::lock_guard lock(mu_);
  auto it = records_.find(id);
  if (it == records_.end()) return NotFoundError("not_found", "no image " + std::string(id));
  // Mutate a copy so a failing `mutate` leaves the stored record untouched.
  ImageRecord copy = it->second;
  RETURN_IF_ERROR(mutate(copy));
  copy.id = it->first;
  copy.updated_at_ms = std::max(NowUnixMillis(), it->second.updated_at_ms);
  it->second = copy;
  return copy;
}

Status MemoryStatusStore::Delete(std::string_view id) {
  std::lock_guard lock(mu_);
  auto it = records_.find(id);
  if (it != records_.end()) records_.erase(it);
  return Status::Ok();
}

Result<std::map<std::string, std::int64_t>> MemoryStatusStore::CountByStatus() {
  std::lock_guard lock(mu_);
  std::map<std::string, std::int64_t> counts;
  for (const auto& [id, r] : records_) ++counts[r.status];
  return counts;
}

}  // namespace photo::store
