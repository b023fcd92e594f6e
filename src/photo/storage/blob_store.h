// Blob storage: where originals and renditions live, behind one interface so
// that processes on different machines share them without sharing a disk.
//
// Keys are relative, '/'-separated paths built from validated image ids
// (pipeline::Layout's paths relative to the data dir, e.g.
// "images/ab/<id>/original"). Two implementations: LocalBlobStore (files
// under the data dir: the default, byte for byte today's layout) and
// S3BlobStore (an S3-compatible server, storage/s3). This module knows
// nothing of HTTP, AMQP or the status store; no exception leaves it.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "photo/core/status.h"

namespace photo::storage {

struct BlobInfo {
  std::uint64_t size = 0;
  // A strong validator, quoted as in HTTP (`"..."`): changes whenever the
  // bytes may have. S3: the server's ETag; local: a digest of size and mtime.
  std::string etag;
};

struct ListEntry {
  std::string key;
  std::uint64_t size = 0;
  std::int64_t modified_unix_ms = 0;  // when the blob was last written
};

// Bytes [first, last] (inclusive, like HTTP's Range); no `last` = to the end.
struct ByteRange {
  std::uint64_t first = 0;
  std::optional<std::uint64_t> last;
};

// Receives a blob's bytes in order. A non-OK return stops the transfer and
// becomes Get's result.
using Sink = std::function<Status(std::string_view chunk)>;

class BlobStore {
 public:
  virtual ~BlobStore() = default;

  // Stores `bytes` / the file at `file` under `key`, replacing any blob of
  // that key as a whole (readers see the old or the new bytes, never a mix).
  // Durable before it returns: fsync'ed (local) or acknowledged by the
  // server after an integrity check of the payload (S3).
  // Errors: kUnavailable (io_error, s3_unavailable: transient),
  // kInvalidArgument (invalid_key), kFailedPrecondition (s3_refused: the
  // server refused the request, e.g. a bad digest or credentials).
  virtual Status Put(const std::string& key, std::string_view bytes) = 0;
  virtual Status PutFile(const std::string& key, const std::filesystem::path& file) = 0;

  // Streams the blob (or `range` of it; a `last` past the end is clamped)
  // into `sink`. Errors: kNotFound (not_found) for a missing key,
  // kInvalidArgument (range_not_satisfiable) for a range starting past the
  // end, the transient errors of Put, or the sink's own error.
  virtual Status Get(const std::string& key, const Sink& sink,
                     std::optional<ByteRange> range = std::nullopt) = 0;

  // Size and ETag; kNotFound (not_found) when absent.
  virtual Result<BlobInfo> Head(const std::string& key) = 0;

  // Removes the blob; a missing key is not an error.
  virtual Status Delete(const std::string& key) = 0;

  // Every key starting with `prefix`, in key order.
  virtual Result<std::vector<ListEntry>> List(const std::string& prefix) = 0;

  // Checks that the store is reachable and usable (the bucket exists, the
  // credentials are accepted; the directory is writable). For start-up and
  // /readyz; the error names the setting to fix.
  virtual Status Check() = 0;

  // Where the blob of `key` is on this machine's disk, when the store is a
  // local directory (callers then read and write in place, as before blob
  // storage existed); nullopt for remote stores.
  virtual std::optional<std::filesystem::path> LocalPath(const std::string& key) const = 0;

  // A URL that lets anyone holding it GET the blob for `ttl_seconds`
  // (S3 presigned URL). kUnimplemented for stores that cannot.
  virtual Result<std::string> PresignGet(const std::string& key, int ttl_seconds) = 0;

  // For logs: "file:///var/data" or "s3://bucket/prefix at http://...".
  virtual std::string Describe() const = 0;
};

// Get (of `range`, or all) into a file (created or truncated; not fsync'ed:
// for temp copies).
Status GetToFile(BlobStore& store, const std::string& key, const std::filesystem::path& file,
                 std::optional<ByteRange> range = std::nullopt);

// Get into memory.
Result<std::string> GetBytes(BlobStore& store, const std::string& key,
                             std::optional<ByteRange> range = std::nullopt);

// Removes every blob whose key starts with `prefix` (a folder, ending in
// '/': an image's "images/ab/<id>/"), and with a local store the folder
// itself (emptied subfolders and temp files of writes in progress). Keeps
// going past a failed delete; returns the first error (kUnavailable when the
// store could not be reached: retry).
Status DeletePrefix(BlobStore& store, const std::string& prefix);

// Keys are relative paths of [A-Za-z0-9._-] segments joined by '/': no "..",
// no empty or dot segments, no leading '/'. kInvalidArgument (invalid_key).
Status ValidateKey(std::string_view key);

}  // namespace photo::storage
