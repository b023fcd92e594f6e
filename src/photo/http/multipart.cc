#include "photo/http/multipart.h"

#include <cctype>

#include "photo/http/request.h"
#include "photo/http/router.h"

namespace photo::http {
namespace {

Status Malformed(std::string message) { return InvalidArgumentError("malformed_multipart", std::move(message)); }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Splits "a; b=\"x;y\"; c" at the semicolons outside quotes and calls
// f(key, value) for each "key=value" parameter (the first item, the type,
// with key "").
template <typename F>
void ForEachParam(std::string_view s, F f) {
  bool first = true;
  while (!s.empty()) {
    size_t i = 0;
    bool quoted = false;
    for (; i < s.size(); ++i) {
      if (s[i] == '"') quoted = !quoted;
      if (s[i] == ';' && !quoted) break;
    }
    std::string_view item = Trim(s.substr(0, i));
    s.remove_prefix(i < s.size() ? i + 1 : i);
    if (first) {
      f(std::string_view(), item);
      first = false;
      continue;
    }
    size_t eq = item.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = Trim(item.substr(0, eq));
    std::string_view value = Trim(item.substr(eq + 1));
    if (!value.empty() && value.front() == '"') {
      value.remove_prefix(1);
      size_t close = value.find('"');
      if (close != std::string_view::npos) value = value.substr(0, close);
    }
    f(key, value);
  }
}

}  // namespace

Result<std::string> MultipartBoundary(std::string_view content_type) {
  std::string boundary;
  bool is_form = false;
  bool has_boundary = false;
  ForEachParam(content_type, [&](std::string_view key, std::string_view value) {
    if (key.empty()) {
      is_form = EqualsIgnoreCase(value, "multipart/form-data");
    } else if (EqualsIgnoreCase(key, "boundary") && !has_boundary) {
      boundary = std::string(value);
      has_boundary = true;
    }
  });
  if (!is_form) return Malformed("expected a multipart/form-data body with a 'file' field");
  if (boundary.empty() || boundary.size() > 70) {
    return Malformed("multipart/form-data needs a boundary of 1 to 70 characters");
  }
  return boundary;
}

MultipartParser::MultipartParser(std::string boundary, MultipartHandler* handler, size_t max_header_bytes)
    : delimiter_("\r\n--" + boundary), handler_(handler), max_header_bytes_(max_header_bytes) {
  // The first delimiter may open the body without a CRLF before it: pretend
  // there was one, so every delimiter looks the same.
  buf_ = "\r\n";
}

Status MultipartParser::Fail(std::string message) {
  if (error_.ok()) error_ = Malformed(std::move(message));
  return error_;
}

Status MultipartParser::Feed(std::string_view data) {
  if (!error_.ok()) return error_;
  if (state_ == State::kEpilogue) return Status::Ok();
  buf_.append(data.data(), data.size());
  Status s = Run();
  if (!s.ok() && error_.ok()) error_ = s;
  return error_;
}

Status MultipartParser::Finish() {
  if (!error_.ok()) return error_;
  if (state_ != State::kEpilogue) {
    return Fail(state_ == State::kPreamble ? "no multipart boundary found in the body"
                                           : "the multipart body ends before its closing boundary");
  }
  return Status::Ok();
}

Status MultipartParser::Run() {
  size_t pos = 0;  // consumed bytes of buf_
  Status result = Status::Ok();
  while (result.ok()) {
    std::string_view rest(buf_.data() + pos, buf_.size() - pos);
    if (state_ == State::kPreamble) {
      size_t d = rest.find(delimiter_);
      if (d == std::string_view::npos) {
        // Keep what could be the start of a delimiter.
        if (rest.size() >= delimiter_.size()) pos += rest.size() - (delimiter_.size() - 1);
        break;
      }
      pos += d + delimiter_.size();
      state_ = State::kAfterDelimiter;
    } else if (state_ == State::kAfterDelimiter) {
      size_t i = 0;
      while (i < rest.size() && (rest[i] == ' ' || rest[i] == '\t')) ++i;
      if (i > 64) {
        result = Fail("too much padding after a multipart boundary");
        break;
      }
      if (rest.size() - i < 2) break;
      std::string_view tail = rest.substr(i, 2);
      if (tail == "--") {
        pos = buf_.size();
        state_ = State::kEpilogue;
        break;
      }
      if (tail != "\r\n") {
        result = Fail("a multipart boundary line must end with CRLF");
        break;
      }
      pos += i + 2;
      state_ = State::kHeaders;
      header_bytes_ = 0;
      part_ = PartHeader{};
    } else if (state_ == State::kHeaders) {
      size_t eol = rest.find("\r\n");
      if (eol == std::string_view::npos) {
        if (header_bytes_ + rest.size() > max_header_bytes_) result = Fail("a part's headers are too long");
        break;
      }
      header_bytes_ += eol + 2;
      if (header_bytes_ > max_header_bytes_) {
        result = Fail("a part's headers are too long");
        break;
      }
      std::string_view line = rest.substr(0, eol);
      pos += eol + 2;
      if (line.empty()) {
        state_ = State::kBody;
        result = handler_->OnPartBegin(part_);
      } else {
        result = ParseHeaderLine(line);
      }
    } else if (state_ == State::kBody) {
      size_t d = rest.find(delimiter_);
      if (d == std::string_view::npos) {
        // Everything but a possible delimiter prefix at the end is data.
        size_t keep = delimiter_.size() - 1;
        if (rest.size() > keep) {
          size_t n = rest.size() - keep;
          result = handler_->OnPartData(rest.substr(0, n));
          pos += n;
        }
        break;
      }
      if (d > 0) result = handler_->OnPartData(rest.substr(0, d));
      if (result.ok()) result = handler_->OnPartEnd();
      pos += d + delimiter_.size();
      state_ = State::kAfterDelimiter;
    } else {  // kEpilogue
      pos = buf_.size();
      break;
    }
  }
  buf_.erase(0, pos);
  return result;
}

Status MultipartParser::ParseHeaderLine(std::string_view line) {
  size_t colon = line.find(':');
  if (colon == std::string_view::npos || colon == 0) return Fail("a part header line has no name");
  std::string_view name = line.substr(0, colon);
  std::string_view value = Trim(line.substr(colon + 1));
  if (EqualsIgnoreCase(name, "Content-Disposition")) {
    bool ext_filename = false;
    ForEachParam(value, [&](std::string_view key, std::string_view v) {
      if (EqualsIgnoreCase(key, "name")) {
        part_.name = std::string(v);
      } else if (EqualsIgnoreCase(key, "filename") && !ext_filename) {
        part_.filename = std::string(v);
        part_.has_filename = true;
      } else if (EqualsIgnoreCase(key, "filename*")) {
        // charset'language'percent-encoded
        size_t q1 = v.find('\'');
        size_t q2 = q1 == std::string_view::npos ? q1 : v.find('\'', q1 + 1);
        if (q2 != std::string_view::npos) {
          part_.filename = PercentDecode(v.substr(q2 + 1));
          part_.has_filename = true;
          ext_filename = true;
        }
      }
    });
  } else if (EqualsIgnoreCase(name, "Content-Type")) {
    part_.content_type = std::string(value);
  }
  return Status::Ok();
}

}  // namespace photo::http
