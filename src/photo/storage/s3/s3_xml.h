// The few S3 XML answers the adapter reads (ListObjectsV2, multipart
// initiation, errors), parsed with libxml2.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "photo/core/status.h"
#include "photo/storage/blob_store.h"

namespace photo::storage {

struct S3Error {
  std::string code;     // e.g. "NoSuchBucket", "SlowDown"
  std::string message;
};

// <Error><Code>..</Code><Message>..</Message></Error>, if `xml` is one.
std::optional<S3Error> ParseS3Error(std::string_view xml);

// The text of the first element named `name` anywhere in `xml`.
std::optional<std::string> FirstXmlText(std::string_view xml, std::string_view name);

// S3's timestamps ("2026-12-05T20:28:34.027Z") as Unix milliseconds; 0 if
// the text is not one.
std::int64_t ParseIso8601Ms(std::string_view text);

struct ListPage {
  std::vector<ListEntry> entries;  // keys as the server has them (with the prefix)
  std::string next_token;          // empty when this is the last page
};
Result<ListPage> ParseListObjectsV2(std::string_view xml);

}  // namespace photo::storage
