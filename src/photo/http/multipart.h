// A streaming multipart/form-data parser (RFC 7578 / RFC 2046): bytes in,
// part events out, nothing buffered beyond one part's header block and a
// delimiter's length. The upload route feeds it the body as it arrives and
// writes the `file` part's bytes to a temp file, so memory per upload stays
// bounded whatever the body size. Fuzzed through fuzz/fuzz_multipart.cc.
//
// Strict where it matters for safety, lenient where clients differ:
// delimiter lines need CRLF (a bare LF body never finds its delimiter and is
// refused), a preamble before the first delimiter and an epilogue after the
// last are skipped, transport padding (spaces, tabs) after a delimiter is
// allowed. Header names are case-insensitive; `filename*=UTF-8''...`
// (RFC 5987) wins over `filename=`. A quoted value ends at the next '"'
// (browsers send Windows paths with unescaped backslashes).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "photo/core/status.h"

namespace photo::http {

struct PartHeader {
  std::string name;          // Content-Disposition name=, "" if none
  std::string filename;      // filename= / filename*=, as sent (not sanitised)
  bool has_filename = false;
  std::string content_type;  // "" if none
};

// What the parser calls; a non-OK return stops parsing with that status.
class MultipartHandler {
 public:
  virtual ~MultipartHandler() = default;
  virtual Status OnPartBegin(const PartHeader& part) = 0;
  virtual Status OnPartData(std::string_view data) = 0;
  virtual Status OnPartEnd() = 0;
};

class MultipartParser {
 public:
  // `handler` is not owned and must outlive the parser.
  MultipartParser(std::string boundary, MultipartHandler* handler, size_t max_header_bytes = 16 * 1024);

  // Parses the next piece of the body. Returns the first error (a
  // malformed_multipart InvalidArgument, or the handler's); after an error
  // every call returns it again.
  Status Feed(std::string_view data);
  // The body ended. malformed_multipart unless the closing delimiter came.
  Status Finish();
  // The closing delimiter has been seen (the rest is epilogue).
  bool done() const { return state_ == State::kEpilogue; }

 private:
  enum class State { kPreamble, kAfterDelimiter, kHeaders, kBody, kEpilogue };
  Status Fail(std::string message);
  Status ParseHeaderLine(std::string_view line);
  Status Run();

  std::string delimiter_;  // "\r\n--" + boundary
  MultipartHandler* handler_;
  size_t max_header_bytes_;
  State state_ = State::kPreamble;
  std::string buf_;  // unparsed bytes
  size_t header_bytes_ = 0;
  PartHeader part_;
  Status error_;
};

// The boundary parameter of a multipart/form-data Content-Type.
// kInvalidArgument("malformed_multipart") when the type is another one, or
// the boundary is missing, empty or over 70 characters (RFC 2046).
Result<std::string> MultipartBoundary(std::string_view content_type);

}  // namespace photo::http
