// Paging through the images, newest first (GET /images), over
// StatusStore::ScanNewest.
//
// Cursors are keyset positions (created_at, id) of the last record a page
// showed, so a page never repeats or skips a record because uploads arrived
// or records were deleted in between. Clients treat them as opaque strings.
//
// has_faces and blurry are read from the stored detections, which no
// backend indexes, so they are applied while scanning: a filtered page scans
// at most kListScanBudget records and may come back short (even empty) with a
// next_cursor to continue from. Only next_cursor == "" means the end.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "photo/core/status.h"
#include "photo/store/status_store.h"

namespace photo::store {

inline constexpr int kDefaultListLimit = 30;
inline constexpr int kMaxListLimit = 100;
inline constexpr int kListScanBudget = 1000;

struct ListQuery {
  int limit = kDefaultListLimit;  // 1..kMaxListLimit
  std::string cursor;             // "" = the first page
  std::string status;             // "" = any status
  std::optional<bool> has_faces;  // detections with at least one face / none
  std::optional<bool> blurry;     // detections.blurry
};

struct ListPage {
  std::vector<ImageRecord> items;
  std::string next_cursor;  // "" = nothing after this page
};

// kInvalidArgument("bad_cursor") for a cursor this code did not make,
// kInvalidArgument("bad_limit") for a limit outside 1..kMaxListLimit, else
// the store's errors (kUnimplemented when it cannot list).
Result<ListPage> ListImages(StatusStore& store, const ListQuery& query);

std::string EncodeCursor(const ScanKey& key);
Result<ScanKey> DecodeCursor(std::string_view cursor);

}  // namespace photo::store
