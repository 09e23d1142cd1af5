#include "shim/replace_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/file_util.h"
#include "common/unique_fd.h"

namespace ctrsnap::shim {

Status ReplaceFile(const std::string& path, std::string_view data, mode_t mode) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd) return Status::FromErrno(errno, "open", tmp);
  if (::fchmod(fd.get(), mode) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Status::FromErrno(err, "fchmod", tmp);
  }
  if (Status st = WriteAll(fd.get(), data); !st.ok()) {
    ::unlink(tmp.c_str());
    return st.WithContext("write " + tmp);
  }
  fd.reset();
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    return Status::FromErrno(err, "rename", path);
  }
  return Status::Ok();
}

}  // namespace ctrsnap::shim
