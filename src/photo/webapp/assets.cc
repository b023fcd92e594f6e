#include "photo/webapp/assets.h"

namespace photo::webapp {

const Asset* FindAsset(std::string_view url_path) {
  if (url_path == "/index.html") url_path = "/";
  for (const Asset& a : AllAssets())
    if (a.path == url_path) return &a;
  return nullptr;
}

}  // namespace photo::webapp
