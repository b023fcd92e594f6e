#include "photo/worker/orphans.h"

#include <map>

#include "photo/core/ids.h"

namespace photo::worker {

Result<SweepReport> SweepOrphans(storage::BlobStore& blobs, store::StatusStore& store,
                                 std::int64_t now_unix_ms, std::int64_t min_age_ms, bool dry_run) {
  ASSIGN_OR_RETURN(std::vector<storage::ListEntry> all, blobs.List("images/"));
  // images/<id[0:2]>/<id>/...: grouped by id, with the newest write.
  struct Image {
    std::vector<std::string> keys;
    std::int64_t newest_ms = 0;
  };
  std::map<std::string, Image> images;
  for (const auto& e : all) {
    const auto a = e.key.find('/', 7);
    const auto b = a == std::string::npos ? a : e.key.find('/', a + 1);
    if (b == std::string::npos) continue;
    const std::string id = e.key.substr(a + 1, b - a - 1);
    if (!IsValidImageId(id)) continue;
    Image& img = images[id];
    img.keys.push_back(e.key);
    img.newest_ms = std::max(img.newest_ms, e.modified_unix_ms);
  }
  SweepReport report;
  report.images_seen = static_cast<int>(images.size());
  for (const auto& [id, img] : images) {
    if (now_unix_ms - img.newest_ms < min_age_ms) continue;
    auto rec = store.Get(id);
    if (rec.ok()) continue;
    if (rec.error().code() != StatusCode::kNotFound) return rec.error();
    report.orphan_ids.push_back(id);
    if (dry_run) continue;
    for (const std::string& key : img.keys) {
      RETURN_IF_ERROR(blobs.Delete(key));
      ++report.blobs_deleted;
    }
  }
  return report;
}

}  // namespace photo::worker
