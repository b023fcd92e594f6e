// The web app (web/ in the source tree), built into the binary so that
// `photo-pipeline api` serves it at / with nothing else to install.
// web/index.html is "/", web/app/<file> is "/app/<file>".
#pragma once

#include <span>
#include <string_view>

namespace photo::webapp {

struct Asset {
  std::string_view path;          // URL path: "/" or "/app/main.js"
  std::string_view content_type;  // with charset for text
  std::string_view body;
  std::string_view etag;          // strong, quoted: "\"0123456789abcdef\""
};

std::span<const Asset> AllAssets();

// The asset served at `url_path` (query already removed), or nullptr.
// "/index.html" is "/" too.
const Asset* FindAsset(std::string_view url_path);

// Content-Security-Policy for the app's answers: scripts, styles, images and
// connections from this origin only; no inline script or style, no
// plugins, no framing, no <base> or form posts elsewhere. Images may also be
// blob: URLs (previews of files before they are uploaded).
inline constexpr std::string_view kContentSecurityPolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

}  // namespace photo::webapp
