// JSON views of an ImageRecord.
//
// Two encodings, kept apart on purpose:
//  * the API encoding (RecordToApiJson and friends) is the outside contract:
//    what GET /status/{id}, `photo-pipeline process` and the processed_images
//    events show. Timestamps are RFC 3339 UTC strings with milliseconds, URLs
//    are built from the id, storage paths are hidden (except the compat `path`).
//  * the storage encoding (RecordToStorageJson / RecordFromStorageJson) is what
//    the stores persist. It round-trips every field of ImageRecord exactly
//    (doubles included, NaN/inf too) and carries a format version "v".
//
// All functions are pure and thread-safe. None throws.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "photo/core/status.h"
#include "photo/image/types.h"
#include "photo/store/image_record.h"

namespace photo::store {

// The image record as GET /status/{id} answers it:
// {
//   "id", "filename", "status",
//   "content_status": "safe"|"review"|"unknown"|null   (null until detect ran),
//   "created_at", "updated_at": "2026-11-27T23:16:04.123Z",
//   "completed_at": string|null                        (set at completed/failed),
//   "stages": {"resize"|"watermark"|"detect": {"state", "attempts",
//              "redeliveries", "started_at", "finished_at", "duration_ms",
//              "cpu_ms", "error": {stage, code, message}|null}},
//   "renditions": {"original"|"thumb"|...: {"url": "/images/{id}/{name}",
//                  "width", "height", "bytes", "format", "watermarked"}},
//   "detections": DetectionsToJson(...)|null           (null until detect ran),
//   "path": string|null    (compat: data-dir-relative path of the main
//                           watermarked rendition, see MainRenditionPath),
//   "error": {"stage", "code", "message"}|null          (set when failed)
// }
// Object keys come out sorted (nlohmann::json); JSON objects are unordered, the
// pipeline order of the stages is kStages.
nlohmann::json RecordToApiJson(const ImageRecord& record);

// {"faces": {"count", "boxes": [{x, y, width, height, score}], "model",
//            "analysed_width", "analysed_height"},
//  "phash": "0123456789abcdef" (16 hex digits), "sharpness", "blurry",
//  "dominant_colors": [{"hex", "share"}],
//  "exif": {"camera": string|null, "captured_at": "2019-03-04T10:11:12"|null
//           (EXIF local time, no zone), "gps_present", "orientation"},
//  "labels": [{"label", "score"}],
//  "content": {"status", "reasons": [...], "checks_ran": [...]}}
nlohmann::json DetectionsToJson(const image::Detections& detections);

// The "renditions" object of RecordToApiJson: the original (when stored) plus
// every rendition, each {url, width, height, bytes, format, watermarked}.
nlohmann::json RenditionsToJson(const ImageRecord& record);

// The compat "path": the data-dir-relative path of "large" if present, else of
// the largest watermarked rendition, else of the largest rendition, else the
// original's path. Empty when the record has none of these.
std::string MainRenditionPath(const ImageRecord& record);

// Lossless storage encoding. RecordFromStorageJson(RecordToStorageJson(r)) == r
// field by field. Returns kInternal("corrupt_record") for text that is not a
// stored record (bad JSON, missing or mistyped field, unknown version).
std::string RecordToStorageJson(const ImageRecord& record);
Result<ImageRecord> RecordFromStorageJson(std::string_view text);

}  // namespace photo::store
