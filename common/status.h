// Status and Result<T>: the project's one error convention.
//
// A Status is either OK or carries a Code, the errno that caused it (0 when
// none) and a message that accumulates context from the inside out, e.g.
// "seal gen 4: rename upper/4: File exists". Functions that can fail return
// Status or Result<T>; exceptions never cross a FUSE callback or a C API.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace ctrsnap {

enum class Code {
  kOk = 0,
  kInvalidArgument,
  kNotFound,
  kAlreadyExists,
  kPermissionDenied,
  kCorrupt,
  kUnsupported,
  kBusy,
  kIo,
  kInternal,
};

std::string_view CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;  // OK
  Status(Code code, std::string message, int err = 0)
      : code_(code), errno_(err), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  // "OP PATH: strerror(err)", with a Code derived from err.
  static Status FromErrno(int err, std::string_view op, std::string_view path = {});
  static Status InvalidArgument(std::string message) {
    return Status(Code::kInvalidArgument, std::move(message), EINVAL_VALUE);
  }
  static Status NotFound(std::string message) {
    return Status(Code::kNotFound, std::move(message), ENOENT_VALUE);
  }
  static Status Corrupt(std::string message) { return Status(Code::kCorrupt, std::move(message)); }
  static Status Unsupported(std::string message) {
    return Status(Code::kUnsupported, std::move(message));
  }
  static Status Internal(std::string message) { return Status(Code::kInternal, std::move(message)); }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  // The errno behind this error, or a best errno for its Code (EIO by default).
  // Used to answer FUSE requests; 0 when ok().
  int err() const;
  const std::string& message() const { return message_; }
  std::string ToString() const;

  // Prefixes "CONTEXT: " to the message. No-op on OK.
  Status WithContext(std::string_view context) const&;
  Status WithContext(std::string_view context) &&;

 private:
  static constexpr int EINVAL_VALUE = 22;
  static constexpr int ENOENT_VALUE = 2;

  Code code_ = Code::kOk;
  int errno_ = 0;
  std::string message_;
};

// Result<T>: a T or a non-OK Status.
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit
  Result(Status status) : v_(std::in_place_index<1>, std::move(status)) {  // NOLINT: implicit
    assert(!std::get<1>(v_).ok() && "Result<T> built from an OK Status");
  }

  bool ok() const { return v_.index() == 0; }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<1>(v_);
  }
  // REQUIRES: ok()
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  T value_or(T other) const& { return ok() ? value() : std::move(other); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace ctrsnap

#define CTRSNAP_CONCAT_INNER(a, b) a##b
#define CTRSNAP_CONCAT(a, b) CTRSNAP_CONCAT_INNER(a, b)

// Returns the Status of EXPR from the calling function when it is not OK.
#define RETURN_IF_ERROR(expr)                         \
  do {                                                \
    ::ctrsnap::Status _st = (expr);                   \
    if (!_st.ok()) return _st;                        \
  } while (0)

// Evaluates a Result<T> EXPR; on error returns its Status, else moves the
// value into LHS (which may be a declaration: `auto x`).
#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL(CTRSNAP_CONCAT(_result_, __LINE__), lhs, expr)
#define ASSIGN_OR_RETURN_IMPL(tmp, lhs, expr) \
  auto tmp = (expr);                          \
  if (!tmp.ok()) return tmp.status();         \
  lhs = std::move(tmp).value()
