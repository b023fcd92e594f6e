// Durable file helpers. Every output the pipeline writes goes through
// WriteFileAtomic: readers see the old file or the whole new one, never a
// torn write, and after it returns the bytes survive a crash (fsync of the
// file and of its directory).
#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>

#include "photo/core/status.h"

namespace photo {

// kScratch: the file is a working copy whose durable home is elsewhere (a
// worker's copy on its way to object storage, which acknowledges the PUT):
// still written whole-or-nothing, but not synced, which would cost a disk
// write and milliseconds per file for nothing.
enum class Durability { kDurable, kScratch };

// Writes `bytes` to `path` via a unique temp file in the same directory,
// fsync, rename, fsync(dir) (kScratch: no fsyncs). Creates parent directories.
Status WriteFileAtomic(const std::filesystem::path& path, std::span<const std::uint8_t> bytes,
                       Durability durability = Durability::kDurable);
Status WriteFileAtomic(const std::filesystem::path& path, std::string_view bytes,
                       Durability durability = Durability::kDurable);

// Renames an already written (and, kDurable, fsynced) temp file into place;
// kDurable also fsyncs the directory. The temp file is removed on failure.
Status CommitFile(const std::filesystem::path& tmp, const std::filesystem::path& final_path,
                  Durability durability = Durability::kDurable);

// fsync a file or directory by path.
Status SyncPath(const std::filesystem::path& path);

// A temp-file name beside `final_path` that no other process will pick:
// "<dir>/.<name>.<pid>.<random>.tmp".
std::filesystem::path TempPathFor(const std::filesystem::path& final_path);

Result<std::string> ReadFile(const std::filesystem::path& path);

Status MakeDirs(const std::filesystem::path& dir);

// True if `child`, once made absolute and normalised, lies inside `root`.
bool IsWithin(const std::filesystem::path& root, const std::filesystem::path& child);

}  // namespace photo
