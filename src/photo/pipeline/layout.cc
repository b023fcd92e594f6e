#include "photo/pipeline/layout.h"

namespace photo::pipeline {
namespace fs = std::filesystem;

Layout Layout::SingleImage(fs::path out_dir, fs::path original) {
  Layout l(std::move(out_dir));
  l.single_original_ = std::move(original);
  return l;
}

Layout Layout::Scratch(fs::path dir) {
  Layout l(std::move(dir));
  l.durability_ = Durability::kScratch;
  return l;
}

fs::path Layout::ImageDir(std::string_view id) const {
  if (!single_original_.empty()) return data_dir_;
  return data_dir_ / "images" / std::string(id.substr(0, 2)) / std::string(id);
}
fs::path Layout::Original(std::string_view id) const {
  if (!single_original_.empty()) return single_original_;
  return ImageDir(id) / "original";
}
fs::path Layout::CleanRendition(std::string_view id, const image::RenditionSpec& spec) const {
  return ImageDir(id) / "clean" / (spec.name + image::OutputExtension(spec.format));
}
fs::path Layout::FinalRendition(std::string_view id, const image::RenditionSpec& spec) const {
  return ImageDir(id) / (spec.name + image::OutputExtension(spec.format));
}

std::string ImageFolderKey(std::string_view id) {
  return Layout("").ImageDir(id).generic_string() + "/";
}

}  // namespace photo::pipeline
