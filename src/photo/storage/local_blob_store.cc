#include "photo/storage/local_blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "photo/core/files.h"

namespace photo::storage {
namespace fs = std::filesystem;
namespace {

Status Errno(std::string_view what, const fs::path& p) {
  const int e = errno;
  if (e == ENOENT) return NotFoundError("not_found", std::string(what) + " " + p.string());
  return UnavailableError(e == ENOSPC ? "disk_full" : "io_error",
                          std::string(what) + " " + p.string() + ": " + std::strerror(e));
}

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

// FNV-1a 64 of the key, size and mtime: files are replaced by rename, never
// modified in place, so these identify the bytes.
std::string EtagFor(const std::string& key, const struct stat& st) {
  std::string text = key + "/" + std::to_string(st.st_size) + "/" +
                     std::to_string(st.st_mtim.tv_sec) + "." + std::to_string(st.st_mtim.tv_nsec);
  std::uint64_t h = 1469598103934665603ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[20];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return "\"" + std::string(buf) + "\"";
}

}  // namespace

Status LocalBlobStore::Put(const std::string& key, std::string_view bytes) {
  RETURN_IF_ERROR(ValidateKey(key));
  return WriteFileAtomic(root_ / key, bytes);
}

Status LocalBlobStore::PutFile(const std::string& key, const fs::path& file) {
  RETURN_IF_ERROR(ValidateKey(key));
  const fs::path target = root_ / key;
  RETURN_IF_ERROR(MakeDirs(target.parent_path()));
  const fs::path tmp = TempPathFor(target);
  std::error_code ec;
  fs::copy_file(file, tmp, fs::copy_options::overwrite_existing, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return UnavailableError("io_error", "copy " + file.string() + ": " + ec.message());
  }
  if (Status s = SyncPath(tmp); !s.ok()) {
    fs::remove(tmp, ec);
    return s;
  }
  return CommitFile(tmp, target);
}

Status LocalBlobStore::Get(const std::string& key, const Sink& sink,
                           std::optional<ByteRange> range) {
  RETURN_IF_ERROR(ValidateKey(key));
  const fs::path path = root_ / key;
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) return Errno("open", path);
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) return Errno("stat", path);
  if (!S_ISREG(st.st_mode)) return NotFoundError("not_found", path.string() + " is not a file");
  const auto size = static_cast<std::uint64_t>(st.st_size);
  std::uint64_t pos = 0;
  std::uint64_t end = size;  // exclusive
  if (range) {
    if (range->first >= size && size > 0)
      return InvalidArgumentError("range_not_satisfiable", "range starts past the end of " + key);
    pos = range->first;
    if (range->last) end = std::min(size, *range->last + 1);
  }
  thread_local std::array<char, 256 * 1024> buf;
  while (pos < end) {
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(buf.size(), end - pos));
    const ssize_t n = ::pread(f.fd, buf.data(), want, static_cast<off_t>(pos));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return n == 0 ? UnavailableError("io_error", path.string() + " shrank")
                              : Errno("read", path);
    RETURN_IF_ERROR(sink(std::string_view(buf.data(), static_cast<std::size_t>(n))));
    pos += static_cast<std::uint64_t>(n);
  }
  return Status::Ok();
}

Result<BlobInfo> LocalBlobStore::Head(const std::string& key) {
  RETURN_IF_ERROR(ValidateKey(key));
  const fs::path path = root_ / key;
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return Errno("stat", path);
  if (!S_ISREG(st.st_mode)) return NotFoundError("not_found", path.string() + " is not a file");
  return BlobInfo{static_cast<std::uint64_t>(st.st_size), EtagFor(key, st)};
}

Status LocalBlobStore::Delete(const std::string& key) {
  RETURN_IF_ERROR(ValidateKey(key));
  const fs::path path = root_ / key;
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Errno("unlink", path);
  return Status::Ok();
}

Result<std::vector<ListEntry>> LocalBlobStore::List(const std::string& prefix) {
  // Walk only the deepest directory the prefix names.
  const auto slash = prefix.rfind('/');
  const fs::path dir = slash == std::string::npos ? root_ : root_ / prefix.substr(0, slash);
  std::vector<ListEntry> out;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return out;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (it->path().filename().string().starts_with(".")) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (!it->is_regular_file(ec)) continue;
    std::string key = it->path().lexically_relative(root_).generic_string();
    if (!key.starts_with(prefix)) continue;
    struct stat st {};
    if (::stat(it->path().c_str(), &st) != 0) continue;  // removed meanwhile
    out.push_back({std::move(key), static_cast<std::uint64_t>(st.st_size),
                   static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000 + st.st_mtim.tv_nsec / 1'000'000});
  }
  if (ec) return UnavailableError("io_error", "list " + dir.string() + ": " + ec.message());
  std::sort(out.begin(), out.end(),
            [](const ListEntry& a, const ListEntry& b) { return a.key < b.key; });
  return out;
}

Status LocalBlobStore::Check() {
  if (Status s = MakeDirs(root_); !s.ok())
    return s.WithContext("PHOTO_PIPELINE_DATA_DIR");
  if (::access(root_.c_str(), W_OK) != 0)
    return UnavailableError("io_error", "PHOTO_PIPELINE_DATA_DIR " + root_.string() +
                                            " is not writable: " + std::strerror(errno));
  return Status::Ok();
}

std::optional<fs::path> LocalBlobStore::LocalPath(const std::string& key) const {
  return root_ / key;
}

Result<std::string> LocalBlobStore::PresignGet(const std::string&, int) {
  return Status(StatusCode::kUnimplemented, "unimplemented", "local storage has no presigned URLs");
}

std::string LocalBlobStore::Describe() const { return "local files under " + root_.string(); }

}  // namespace photo::storage
