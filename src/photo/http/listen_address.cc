#include "photo/http/listen_address.h"

#include <charconv>

namespace photo::http {
namespace {

Status Bad(std::string message) { return InvalidArgumentError("bad_config", std::move(message)); }

}  // namespace

Status ParseListen(std::string_view text, std::string* host, int* port) {
  std::string_view h;
  std::string_view p;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Bad("listen address '" + std::string(text) + "': expected [v6addr]:port");
    }
    h = text.substr(1, close - 1);
    p = text.substr(close + 2);
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return Bad("listen address '" + std::string(text) + "': expected host:port");
    }
    h = text.substr(0, colon);
    p = text.substr(colon + 1);
    if (h.find(':') != std::string_view::npos) {
      return Bad("listen address '" + std::string(text) + "': write IPv6 hosts as [addr]:port");
    }
  }
  int v = 0;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
  if (ec != std::errc() || end != p.data() + p.size() || v < 0 || v > 65535) {
    return Bad("listen port=" + std::string(p) + ": expected an integer in [0, 65535]");
  }
  *host = h.empty() ? "0.0.0.0" : std::string(h);
  *port = v;
  return Status::Ok();
}

}  // namespace photo::http
