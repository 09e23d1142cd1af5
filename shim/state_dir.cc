#include "shim/state_dir.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>

#include "common/file_util.h"
#include "common/state_layout.h"

namespace ctrsnap::shim {

Status ValidateContainerId(const std::string& id) {
  if (id.empty()) return Status::InvalidArgument("empty container id");
  if (id.size() > 1024) return Status::InvalidArgument("container id longer than 1024 bytes");
  if (id == "." || id == "..") return Status::InvalidArgument("invalid container id '" + id + "'");
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '+' || c == '.' || c == '-';
    if (!ok) return Status::InvalidArgument("invalid container id '" + id + "'");
  }
  return Status::Ok();
}

static Status CheckDir(const std::string& path) {
  struct stat st{};
  if (::lstat(path.c_str(), &st) != 0) return Status::FromErrno(errno, "lstat", path);
  if (!S_ISDIR(st.st_mode)) {
    return Status(Code::kInvalidArgument, "state dir " + path + " is not a directory");
  }
  return Status::Ok();
}

Result<StateDir> OpenStateDir(const std::string& root, const std::string& id) {
  RETURN_IF_ERROR(ValidateContainerId(id));
  RETURN_IF_ERROR(MakeDirs(root, 0711).WithContext("state root"));
  StateDir dir;
  dir.path = JoinPath(root, id);
  if (::mkdir(dir.path.c_str(), 0700) == 0) return dir;
  if (errno != EEXIST) return Status::FromErrno(errno, "mkdir", dir.path);
  RETURN_IF_ERROR(CheckDir(dir.path));
  dir.resumed = true;
  return dir;
}

Result<std::string> FindStateDir(const std::string& root, const std::string& id) {
  RETURN_IF_ERROR(ValidateContainerId(id));
  std::string path = JoinPath(root, id);
  RETURN_IF_ERROR(CheckDir(path));
  return path;
}

}  // namespace ctrsnap::shim
