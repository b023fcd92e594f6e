// The few S3 XML answers the adapter reads (ListObjectsV2, multipart
// initiation, errors), parsed with libxml2.
#pragma once

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

struct ListPage {
  std::vector<ListEntry> entries;  // keys as the server has them (with the prefix)
  std::string next_token;          // empty when this is the last page
};
Result<ListPage> ParseListObjectsV2(std::string_view xml);

}  // namespace photo::storage
