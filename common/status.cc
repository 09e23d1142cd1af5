#include "common/status.h"

#include <cerrno>
#include <cstring>

namespace ctrsnap {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kInvalidArgument: return "invalid argument";
    case Code::kNotFound: return "not found";
    case Code::kAlreadyExists: return "already exists";
    case Code::kPermissionDenied: return "permission denied";
    case Code::kCorrupt: return "corrupt";
    case Code::kUnsupported: return "unsupported";
    case Code::kBusy: return "busy";
    case Code::kIo: return "i/o error";
    case Code::kInternal: return "internal error";
  }
  return "unknown";
}

static Code CodeForErrno(int err) {
  switch (err) {
    case 0: return Code::kInternal;
    case EINVAL: case ENAMETOOLONG: case ELOOP: return Code::kInvalidArgument;
    case ENOENT: case ENOTDIR: return Code::kNotFound;
    case EEXIST: case ENOTEMPTY: return Code::kAlreadyExists;
    case EPERM: case EACCES: return Code::kPermissionDenied;
    case EOPNOTSUPP: case ENOSYS: case EXDEV: return Code::kUnsupported;
    case EBUSY: case EAGAIN: return Code::kBusy;
    default: return Code::kIo;
  }
}

Status Status::FromErrno(int err, std::string_view op, std::string_view path) {
  std::string msg(op);
  if (!path.empty()) {
    msg += ' ';
    msg += path;
  }
  msg += ": ";
  msg += std::strerror(err);
  return Status(CodeForErrno(err), std::move(msg), err);
}

int Status::err() const {
  if (ok()) return 0;
  if (errno_ != 0) return errno_;
  switch (code_) {
    case Code::kInvalidArgument: return EINVAL;
    case Code::kNotFound: return ENOENT;
    case Code::kAlreadyExists: return EEXIST;
    case Code::kPermissionDenied: return EPERM;
    case Code::kUnsupported: return EOPNOTSUPP;
    case Code::kBusy: return EBUSY;
    default: return EIO;
  }
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return message_.empty() ? std::string(CodeName(code_)) : message_;
}

Status Status::WithContext(std::string_view context) const& {
  Status copy = *this;
  return std::move(copy).WithContext(context);
}

Status Status::WithContext(std::string_view context) && {
  if (ok()) return *this;
  std::string msg(context);
  msg += ": ";
  msg += message_;
  message_ = std::move(msg);
  return std::move(*this);
}

}  // namespace ctrsnap
