#include "photo/store/image_record.h"

#include <utility>

namespace photo::store {

StageState& ImageRecord::Stage(const std::string& stage) {
  for (auto& s : stages)
    if (s.stage == stage) return s;
  StageState fresh;
  fresh.stage = stage;
  // Keep pipeline order even when a stage is added late (old records, or a
  // record built by hand in a test): known stages go before unknown ones.
  auto rank = [](const std::string& name) {
    int i = 0;
    for (const char* known : kStages) {
      if (name == known) return i;
      ++i;
    }
    return i;
  };
  auto it = stages.begin();
  while (it != stages.end() && rank(it->stage) <= rank(stage)) ++it;
  return *stages.insert(it, std::move(fresh));
}

const StageState* ImageRecord::FindStage(const std::string& stage) const {
  for (const auto& s : stages)
    if (s.stage == stage) return &s;
  return nullptr;
}

const image::Rendition* ImageRecord::FindRendition(const std::string& name) const {
  for (const auto& r : renditions)
    if (r.name == name) return &r;
  return nullptr;
}

ImageRecord NewRecord(std::string id, std::string filename, std::int64_t now_ms) {
  ImageRecord r;
  r.id = std::move(id);
  r.filename = std::move(filename);
  r.status = "uploaded";
  r.created_at_ms = now_ms;
  r.updated_at_ms = now_ms;
  for (const char* stage : kStages) {
    StageState s;
    s.stage = stage;
    r.stages.push_back(std::move(s));
  }
  return r;
}

}  // namespace photo::store
