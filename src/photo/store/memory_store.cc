#include "photo/store/memory_store.h"

#include <algorithm>
#include <tuple>

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

namespace {

// The first `limit` records that pass `keep`, in `before` order.
template <typename Map, typename Keep, typename Before>
std::vector<ImageRecord> Scan(const Map& records, Keep keep, Before before, int limit) {
  std::vector<const ImageRecord*> rows;
  for (const auto& [id, r] : records)
    if (keep(r)) rows.push_back(&r);
  std::sort(rows.begin(), rows.end(),
            [&](const ImageRecord* a, const ImageRecord* b) { return before(*a, *b); });
  rows.resize(std::min(rows.size(), static_cast<std::size_t>(std::max(limit, 0))));
  std::vector<ImageRecord> out;
  for (const ImageRecord* r : rows) out.push_back(*r);
  return out;
}

}  // namespace

Result<std::vector<ImageRecord>> MemoryStatusStore::ScanNewest(const ScanKey* after,
                                                               std::string_view status,
                                                               int limit) {
  std::lock_guard lock(mu_);
  return Scan(
      records_,
      [&](const ImageRecord& r) {
        if (!status.empty() && r.status != status) return false;
        return !after || std::tie(r.created_at_ms, r.id) < std::tie(after->ms, after->id);
      },
      [](const ImageRecord& a, const ImageRecord& b) {
        return std::tie(a.created_at_ms, a.id) > std::tie(b.created_at_ms, b.id);
      },
      limit);
}

Result<std::vector<ImageRecord>> MemoryStatusStore::ScanChanged(const ScanKey& after, int limit) {
  std::lock_guard lock(mu_);
  return Scan(
      records_,
      [&](const ImageRecord& r) {
        return std::tie(r.updated_at_ms, r.id) > std::tie(after.ms, after.id);
      },
      [](const ImageRecord& a, const ImageRecord& b) {
        return std::tie(a.updated_at_ms, a.id) < std::tie(b.updated_at_ms, b.id);
      },
      limit);
}

}  // namespace photo::store
