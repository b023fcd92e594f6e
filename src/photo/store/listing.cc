#include "photo/store/listing.h"

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace photo::store {
namespace {

// "c" + 16 hex digits of created_at_ms + "." + id. The version letter lets
// a later format refuse old cursors cleanly.
constexpr char kCursorVersion = 'c';

bool IdChar(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-'; }

bool Matches(const ImageRecord& r, const ListQuery& q) {
  if (q.has_faces) {
    bool faces = r.detections && r.detections->face_count > 0;
    if (faces != *q.has_faces) return false;
  }
  if (q.blurry) {
    // Not analysed yet is neither blurry nor sharp.
    if (!r.detections || r.detections->blurry != *q.blurry) return false;
  }
  return true;
}

}  // namespace

Result<std::vector<ImageRecord>> StatusStore::ScanNewest(const ScanKey*, std::string_view, int) {
  return Status{StatusCode::kUnimplemented, "not_supported", "this store cannot list images"};
}

Result<std::vector<ImageRecord>> StatusStore::ScanChanged(const ScanKey&, int) {
  return Status{StatusCode::kUnimplemented, "not_supported", "this store has no change feed"};
}

std::string EncodeCursor(const ScanKey& key) {
  char ms[17];
  std::snprintf(ms, sizeof ms, "%016llx", static_cast<unsigned long long>(key.ms));
  return std::string(1, kCursorVersion) + ms + "." + key.id;
}

Result<ScanKey> DecodeCursor(std::string_view c) {
  auto bad = [] { return InvalidArgumentError("bad_cursor", "cursor is not one this API issued"); };
  if (c.size() < 19 || c.size() > 18 + 64 || c[0] != kCursorVersion || c[17] != '.') return bad();
  unsigned long long ms = 0;
  auto [p, ec] = std::from_chars(c.data() + 1, c.data() + 17, ms, 16);
  if (ec != std::errc() || p != c.data() + 17) return bad();
  std::string_view id = c.substr(18);
  if (!std::all_of(id.begin(), id.end(), IdChar)) return bad();
  return ScanKey{static_cast<std::int64_t>(ms), std::string(id)};
}

Result<ListPage> ListImages(StatusStore& store, const ListQuery& q) {
  if (q.limit < 1 || q.limit > kMaxListLimit)
    return InvalidArgumentError("bad_limit",
                                "limit must be 1.." + std::to_string(kMaxListLimit));
  std::optional<ScanKey> after;
  if (!q.cursor.empty()) {
    ASSIGN_OR_RETURN(ScanKey k, DecodeCursor(q.cursor));
    after = std::move(k);
  }
  const bool filtered = q.has_faces.has_value() || q.blurry.has_value();
  ListPage page;
  if (!filtered) {
    // One more than asked tells whether a next page exists.
    ASSIGN_OR_RETURN(auto rows, store.ScanNewest(after ? &*after : nullptr, q.status, q.limit + 1));
    bool more = static_cast<int>(rows.size()) > q.limit;
    if (more) rows.resize(static_cast<std::size_t>(q.limit));
    page.items = std::move(rows);
    if (more) page.next_cursor = EncodeCursor({page.items.back().created_at_ms, page.items.back().id});
    return page;
  }
  const int batch = std::max(q.limit, 50);
  int scanned = 0;
  while (scanned < kListScanBudget) {
    ASSIGN_OR_RETURN(auto rows, store.ScanNewest(after ? &*after : nullptr, q.status, batch));
    for (std::size_t i = 0; i < rows.size(); ++i) {
      ++scanned;
      after = ScanKey{rows[i].created_at_ms, rows[i].id};
      if (!Matches(rows[i], q)) continue;
      page.items.push_back(std::move(rows[i]));
      if (static_cast<int>(page.items.size()) == q.limit) {
        // Full: continue after this record (a next page may turn out empty).
        bool last_row = i + 1 == rows.size() && static_cast<int>(rows.size()) < batch;
        if (!last_row) page.next_cursor = EncodeCursor(*after);
        return page;
      }
    }
    if (static_cast<int>(rows.size()) < batch) return page;  // the end
  }
  page.next_cursor = EncodeCursor(*after);  // budget spent: the client continues
  return page;
}

}  // namespace photo::store
