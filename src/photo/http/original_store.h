// The one step that makes an upload durable: the fsynced temp file becomes
// the original of `id`. Kept behind these two functions so the storage
// backend (local files or a BlobStore) is a local change.
#pragma once

#include <filesystem>
#include <string>

#include "photo/core/status.h"
#include "photo/http/api_context.h"

namespace photo::http {

// Moves `tmp` (already fsynced and closed) to the original of `id` and makes
// it durable: renamed into the data dir and fsynced, or, with remote blob
// storage (ctx.remote_blobs), PUT as the object of that key (acknowledged
// by the server, Content-MD5 checked) and `tmp` removed. Returns the path
// records and jobs carry (relative to the data dir = the object key, e.g.
// "images/ab/<id>/original"). On error nothing of `id` is left that
// RemoveOriginal would not remove. Errors: disk_full (kUnavailable),
// storage_unavailable (kUnavailable: S3 unreachable after its retries),
// io_error (kInternal). Blocks (fsync, network): call it on a worker thread.
Result<std::string> PersistOriginal(ApiContext& ctx, const std::filesystem::path& tmp, const std::string& id);

// Removes everything stored for `id` (rollback of a refused upload): at once,
// also for remote storage. Logs, never fails; an object whose delete fails
// (the store unreachable at that moment) stays without a record until
// `photo-pipeline sweep` removes it.
void RemoveOriginal(ApiContext& ctx, const std::string& id);

// Erases every blob of `id` (original, renditions, intermediates) through
// ctx.blobs, local or remote: what DELETE /images/{id} removes. Errors:
// storage_unavailable (kUnavailable) when some could not be deleted.
Status EraseImageBlobs(ApiContext& ctx, const std::string& id);

}  // namespace photo::http
