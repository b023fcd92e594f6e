// Where an image's files live under the data directory. Paths are built from
// the validated id alone; the client's filename never reaches the filesystem.
//
//   <data>/images/<id[0:2]>/<id>/original            the upload, as received
//   <data>/images/<id[0:2]>/<id>/clean/<name><ext>   unwatermarked renditions that
//                                                    the watermark stage will mark
//                                                    (detect reads these)
//   <data>/images/<id[0:2]>/<id>/<name><ext>          final renditions
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "photo/core/files.h"
#include "photo/image/types.h"

namespace photo::pipeline {

class Layout {
 public:
  explicit Layout(std::filesystem::path data_dir) : data_dir_(std::move(data_dir)) {}

  // For `photo-pipeline process FILE --out DIR`: one image whose original is
  // `original` (read in place) and whose renditions go straight into `out_dir`.
  static Layout SingleImage(std::filesystem::path out_dir, std::filesystem::path original);
  // A worker's scratch copy of the layout (remote storage): the stages'
  // outputs there are put to the store, which makes them durable, so they
  // are written without fsync.
  static Layout Scratch(std::filesystem::path dir);

  // How the stages write their outputs under this layout.
  Durability durability() const { return durability_; }

  const std::filesystem::path& data_dir() const { return data_dir_; }
  // Precondition: IsValidImageId(id).
  std::filesystem::path ImageDir(std::string_view id) const;
  std::filesystem::path Original(std::string_view id) const;
  std::filesystem::path CleanRendition(std::string_view id, const image::RenditionSpec& spec) const;
  std::filesystem::path FinalRendition(std::string_view id, const image::RenditionSpec& spec) const;

 private:
  std::filesystem::path data_dir_;
  std::filesystem::path single_original_;  // non-empty in SingleImage mode
  Durability durability_ = Durability::kDurable;
};

// The blob-key prefix of everything stored for image `id`
// ("images/ab/<id>/"): its folder relative to the data dir, ending in '/' as
// storage::DeletePrefix and BlobStore::List take a folder. The one spelling
// of it for the API's erasure and the worker's. Precondition:
// IsValidImageId(id).
std::string ImageFolderKey(std::string_view id);

}  // namespace photo::pipeline
