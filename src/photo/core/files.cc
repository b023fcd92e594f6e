#include "photo/core/files.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <random>
#include <sstream>

namespace photo {
namespace fs = std::filesystem;

namespace {
Status ErrnoStatus(std::string_view what, const fs::path& p) {
  int e = errno;
  StatusCode code = (e == ENOENT) ? StatusCode::kNotFound : StatusCode::kUnavailable;
  return {code, e == ENOSPC ? "disk_full" : "io_error",
          std::string(what) + " " + p.string() + ": " + std::strerror(e)};
}
}  // namespace

fs::path TempPathFor(const fs::path& final_path) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  std::ostringstream name;
  name << "." << final_path.filename().string() << "." << ::getpid() << "." << std::hex << rng()
       << ".tmp";
  return final_path.parent_path() / name.str();
}

Status SyncPath(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus("open", path);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return ErrnoStatus("fsync", path);
  return Status::Ok();
}

Status MakeDirs(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return UnavailableError("io_error", "mkdir " + dir.string() + ": " + ec.message());
  return Status::Ok();
}

Status CommitFile(const fs::path& tmp, const fs::path& final_path, Durability durability) {
  if (::rename(tmp.c_str(), final_path.c_str()) != 0) {
    Status s = ErrnoStatus("rename", final_path);
    ::unlink(tmp.c_str());
    return s;
  }
  if (durability == Durability::kScratch) return Status::Ok();
  fs::path dir = final_path.parent_path();
  return SyncPath(dir.empty() ? fs::path(".") : dir);
}

Status WriteFileAtomic(const fs::path& path, std::span<const std::uint8_t> bytes, Durability durability) {
  if (path.has_parent_path()) RETURN_IF_ERROR(MakeDirs(path.parent_path()));
  fs::path tmp = TempPathFor(path);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus("create", tmp);
  const std::uint8_t* p = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(fd, p, left);
    if (n < 0) {
      if (errno == EINTR) continue;
      Status s = ErrnoStatus("write", tmp);
      ::close(fd);
      ::unlink(tmp.c_str());
      return s;
    }
    p += n;
    left -= static_cast<std::size_t>(n);
  }
  if (durability == Durability::kDurable && ::fsync(fd) != 0) {
    Status s = ErrnoStatus("fsync", tmp);
    ::close(fd);
    ::unlink(tmp.c_str());
    return s;
  }
  ::close(fd);
  return CommitFile(tmp, path, durability);
}

Status WriteFileAtomic(const fs::path& path, std::string_view bytes, Durability durability) {
  return WriteFileAtomic(
      path,
      std::span<const std::uint8_t>(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()),
      durability);
}

Result<std::string> ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFoundError("not_found", "cannot open " + path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return UnavailableError("io_error", "read " + path.string());
  return ss.str();
}

bool IsWithin(const fs::path& root, const fs::path& child) {
  fs::path r = fs::absolute(root).lexically_normal();
  fs::path c = fs::absolute(child).lexically_normal();
  auto [ri, ci] = std::mismatch(r.begin(), r.end(), c.begin(), c.end());
  // A trailing empty element ("dir/") counts as a match.
  return ri == r.end() || (std::next(ri) == r.end() && ri->empty());
}

}  // namespace photo
