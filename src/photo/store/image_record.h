// The image record: everything GET /status/{id} answers, as plain values.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "photo/image/types.h"

namespace photo::store {

inline constexpr const char* kStages[] = {"resize", "watermark", "detect"};

// Image status: "uploaded" -> "processing" -> "completed" | "failed".
struct ErrorInfo {
  std::string stage;
  std::string code;     // stable reason, e.g. "corrupt_image"
  std::string message;
};

struct StageState {
  std::string stage;                 // "resize" | "watermark" | "detect"
  std::string state = "pending";     // pending | processing | retrying | completed | failed
  int attempts = 0;                  // deliveries that started work (redeliveries included)
  int redeliveries = 0;              // of those, how many were redelivered by the broker
  std::optional<std::int64_t> started_at_ms;   // first start
  std::optional<std::int64_t> finished_at_ms;
  double duration_ms = 0;            // wall time of the last successful run
  double cpu_ms = 0;                 // CPU time of the last successful run
  std::optional<ErrorInfo> error;    // last error
};

struct ImageRecord {
  std::string id;
  std::string filename;                  // sanitised client filename (display only)
  std::string status = "uploaded";
  std::optional<std::string> content_status;  // set once detect ran
  std::int64_t created_at_ms = 0;
  std::int64_t updated_at_ms = 0;
  std::optional<std::int64_t> completed_at_ms;  // reached completed or failed
  std::string original_path;             // relative to the data dir
  std::string source_format;             // "jpeg", ...
  int width = 0, height = 0;             // stored pixel size of the original
  std::uint64_t bytes = 0;
  std::vector<StageState> stages;        // one per stage, in pipeline order
  std::vector<image::Rendition> renditions;   // paths relative to the data dir
  std::optional<image::Detections> detections;
  std::optional<ErrorInfo> error;        // set when failed

  // Returns the entry for `stage`, creating it (pending) if missing.
  StageState& Stage(const std::string& stage);
  const StageState* FindStage(const std::string& stage) const;
  const image::Rendition* FindRendition(const std::string& name) const;
};

// A fresh record for an accepted upload: status "uploaded", every stage pending.
ImageRecord NewRecord(std::string id, std::string filename, std::int64_t now_ms);

}  // namespace photo::store
