// Status and Result<T>: errors as values (abseil's canonical codes, a subset).
//
// A Status carries a code (decides retry/park and the HTTP class), a stable
// machine-readable `reason` (the public JSON error code, e.g.
// "unsupported_media_type") and a human message for logs. Libraries that
// throw (libvips, OpenCV) are caught at their wrapper and turned into a Status;
// no exception crosses a module boundary.
#pragma once

#include <cassert>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace photo {

enum class StatusCode {
  kOk = 0,
  kInvalidArgument,     // bad input: unsupported/corrupt image, malformed multipart
  kNotFound,            // unknown id, missing file
  kAlreadyExists,
  kResourceExhausted,   // over a limit: too_large, too_many_pixels, too_many_frames
  kFailedPrecondition,  // state does not allow the operation
  kUnavailable,         // broker/store unreachable: transient, retry
  kDeadlineExceeded,    // timed out: transient, retry
  kInternal,            // a bug or an unexpected library failure
  kUnimplemented,
};

std::string_view StatusCodeName(StatusCode code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(StatusCode code, std::string reason, std::string message)
      : code_(code), reason_(std::move(reason)), message_(std::move(message)) {}

  static Status Ok() { return {}; }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  // Stable public code, e.g. "corrupt_image"; empty when ok().
  const std::string& reason() const { return reason_; }
  const std::string& message() const { return message_; }
  // "<reason>: <message>" for logs.
  std::string ToString() const;

  // True for failures that may succeed if retried later (unavailable,
  // deadline exceeded, internal). Permanent input errors return false.
  bool IsTransient() const;

  // Returns a copy whose message is prefixed with `context`.
  Status WithContext(std::string_view context) const;

  friend bool operator==(const Status& a, const Status& b) {
    return a.code_ == b.code_ && a.reason_ == b.reason_;
  }

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string reason_;
  std::string message_;
};

inline Status InvalidArgumentError(std::string reason, std::string message) {
  return {StatusCode::kInvalidArgument, std::move(reason), std::move(message)};
}
inline Status NotFoundError(std::string reason, std::string message) {
  return {StatusCode::kNotFound, std::move(reason), std::move(message)};
}
inline Status ResourceExhaustedError(std::string reason, std::string message) {
  return {StatusCode::kResourceExhausted, std::move(reason), std::move(message)};
}
inline Status FailedPreconditionError(std::string reason, std::string message) {
  return {StatusCode::kFailedPrecondition, std::move(reason), std::move(message)};
}
inline Status UnavailableError(std::string reason, std::string message) {
  return {StatusCode::kUnavailable, std::move(reason), std::move(message)};
}
inline Status DeadlineExceededError(std::string reason, std::string message) {
  return {StatusCode::kDeadlineExceeded, std::move(reason), std::move(message)};
}
inline Status InternalError(std::string reason, std::string message) {
  return {StatusCode::kInternal, std::move(reason), std::move(message)};
}

// Either a T or a non-OK Status; shaped like std::expected<T, Status> so that
// moving to C++23 is a rename.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result from an OK Status");
  }

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  bool ok() const { return has_value(); }

  T& value() & { return std::get<T>(v_); }
  const T& value() const& { return std::get<T>(v_); }
  T&& value() && { return std::get<T>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T&& operator*() && { return std::move(*this).value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  // The error; only valid when !has_value().
  const Status& error() const& { return std::get<Status>(v_); }
  Status status() const { return has_value() ? Status::Ok() : error(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace photo

#define PHOTO_CONCAT_INNER_(a, b) a##b
#define PHOTO_CONCAT_(a, b) PHOTO_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                    \
  do {                                           \
    ::photo::Status photo_status_ = (expr);      \
    if (!photo_status_.ok()) return photo_status_; \
  } while (false)

#define ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                           \
  if (!tmp.has_value()) return tmp.error();    \
  lhs = std::move(tmp).value()

#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL_(PHOTO_CONCAT_(photo_result_, __LINE__), lhs, expr)
