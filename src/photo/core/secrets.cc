#include "photo/core/secrets.h"

#include <cctype>

#include "photo/core/files.h"

namespace photo {

Status ReadSecretSetting(const std::function<const char*(const char*)>& env, const std::string& var,
                         std::string* out) {
  auto bad = [](std::string message) { return InvalidArgumentError("bad_config", std::move(message)); };
  const char* direct = env(var.c_str());
  const std::string file_var = var + "_FILE";
  const char* file = env(file_var.c_str());
  const bool has_file = file != nullptr && *file != '\0';
  if (has_file && direct != nullptr && *direct != '\0') {
    return bad(var + " and " + file_var + " are both set; use one");
  }
  if (!has_file) {
    if (direct != nullptr) *out = direct;
    return Status::Ok();
  }
  Result<std::string> read = ReadFile(file);
  if (!read) return bad(file_var + "=" + file + ": " + read.error().message());
  std::string text = std::move(*read);
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) text.pop_back();
  if (text.empty()) return bad(file_var + "=" + file + ": the file is empty");
  *out = std::move(text);
  return Status::Ok();
}

}  // namespace photo
