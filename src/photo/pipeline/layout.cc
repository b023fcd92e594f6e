#include "photo/pipeline/layout.h"

namespace photo::pipeline {
namespace fs = std::filesystem;

fs::path Layout::ImageDir(std::string_view id) const {
  return data_dir_ / "images" / std::string(id.substr(0, 2)) / std::string(id);
}
fs::path Layout::Original(std::string_view id) const { return ImageDir(id) / "original"; }
fs::path Layout::CleanRendition(std::string_view id, const image::RenditionSpec& spec) const {
  return ImageDir(id) / "clean" / (spec.name + image::OutputExtension(spec.format));
}
fs::path Layout::FinalRendition(std::string_view id, const image::RenditionSpec& spec) const {
  return ImageDir(id) / (spec.name + image::OutputExtension(spec.format));
}

}  // namespace photo::pipeline
