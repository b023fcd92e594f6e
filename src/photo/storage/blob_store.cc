#include "photo/storage/blob_store.h"

#include <cstdio>
#include <memory>

namespace photo::storage {

Status ValidateKey(std::string_view key) {
  auto bad = [&](const char* why) {
    return InvalidArgumentError("invalid_key", std::string(why) + ": '" + std::string(key) + "'");
  };
  if (key.empty() || key.size() > 512) return bad("empty or over 512 bytes");
  std::size_t start = 0;
  while (start <= key.size()) {
    std::size_t slash = key.find('/', start);
    if (slash == std::string_view::npos) slash = key.size();
    std::string_view seg = key.substr(start, slash - start);
    if (seg.empty() || seg == "." || seg == "..") return bad("empty, '.' or '..' segment");
    for (char c : seg) {
      bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                c == '.' || c == '_' || c == '-';
      if (!ok) return bad("a character outside [A-Za-z0-9._-/]");
    }
    start = slash + 1;
  }
  return Status::Ok();
}

Status GetToFile(BlobStore& store, const std::string& key, const std::filesystem::path& file,
                 std::optional<ByteRange> range) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(file.c_str(), "wb"), &std::fclose);
  if (!f) return UnavailableError("io_error", "cannot create " + file.string());
  Status s = store.Get(key, [&](std::string_view chunk) {
    if (std::fwrite(chunk.data(), 1, chunk.size(), f.get()) != chunk.size())
      return UnavailableError("io_error", "write " + file.string());
    return Status::Ok();
  }, range);
  if (s.ok() && std::fflush(f.get()) != 0) s = UnavailableError("io_error", "write " + file.string());
  return s;
}

Result<std::string> GetBytes(BlobStore& store, const std::string& key,
                             std::optional<ByteRange> range) {
  std::string out;
  Status s = store.Get(
      key,
      [&](std::string_view chunk) {
        out.append(chunk);
        return Status::Ok();
      },
      range);
  if (!s.ok()) return s;
  return out;
}

Status DeletePrefix(BlobStore& store, const std::string& prefix) {
  std::string folder = prefix;
  while (!folder.empty() && folder.back() == '/') folder.pop_back();
  RETURN_IF_ERROR(ValidateKey(folder));
  Result<std::vector<ListEntry>> keys = store.List(folder + "/");
  if (!keys) return keys.error();
  Status first = Status::Ok();
  for (const ListEntry& e : *keys) {
    Status s = store.Delete(e.key);
    if (!s.ok() && first.ok()) first = s;
  }
  if (const std::optional<std::filesystem::path> dir = store.LocalPath(folder)) {
    std::error_code ec;
    std::filesystem::remove_all(*dir, ec);
    if (ec && first.ok()) first = UnavailableError("io_error", "remove " + dir->string() + ": " + ec.message());
  }
  return first;
}

}  // namespace photo::storage
