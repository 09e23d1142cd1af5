#include "common/file_util.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace ctrsnap {

Result<UniqueFd> OpenBeneath(int dirfd, std::string_view path, int flags, mode_t mode) {
  struct open_how how = {};
  how.flags = static_cast<unsigned>(flags | O_CLOEXEC);
  how.mode = (flags & (O_CREAT | O_TMPFILE)) ? mode : 0;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
  std::string p(path.empty() ? "." : path);
  long fd;
  do {
    fd = syscall(SYS_openat2, dirfd, p.c_str(), &how, sizeof(how));
  } while (fd < 0 && errno == EAGAIN);
  if (fd < 0) return Status::FromErrno(errno, "openat2", p);
  return UniqueFd(static_cast<int>(fd));
}

Result<std::string> ReadFdToString(int fd) {
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "read");
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Result<std::string> ReadFileToString(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, "open", path);
  auto r = ReadFdToString(fd.get());
  if (!r.ok()) return r.status().WithContext(path);
  return r;
}

Status WriteAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "write");
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return Status::Ok();
}

static std::string DirName(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

Status WriteFileAtomic(const std::string& path, std::string_view data, mode_t mode) {
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, mode));
  if (!fd) return Status::FromErrno(errno, "open", tmp);
  Status st = WriteAll(fd.get(), data);
  if (st.ok() && ::fchmod(fd.get(), mode) != 0) st = Status::FromErrno(errno, "fchmod", tmp);
  if (st.ok() && ::fsync(fd.get()) != 0) st = Status::FromErrno(errno, "fsync", tmp);
  fd.reset();
  if (st.ok() && ::rename(tmp.c_str(), path.c_str()) != 0) {
    st = Status::FromErrno(errno, "rename", tmp);
  }
  if (!st.ok()) {
    ::unlink(tmp.c_str());
    return st.WithContext("write " + path);
  }
  UniqueFd dir(::open(DirName(path).c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dir) ::fsync(dir.get());
  return Status::Ok();
}

Status MakeDirs(const std::string& path, mode_t mode) {
  if (path.empty()) return Status::InvalidArgument("mkdir: empty path");
  std::string cur;
  size_t pos = 0;
  while (pos <= path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    cur = path.substr(0, next);
    pos = next + 1;
    if (cur.empty()) continue;
    if (::mkdir(cur.c_str(), mode) != 0 && errno != EEXIST) {
      return Status::FromErrno(errno, "mkdir", cur);
    }
  }
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Status::FromErrno(errno, "stat", path);
  if (!S_ISDIR(st.st_mode)) return Status::FromErrno(ENOTDIR, "mkdir", path);
  return Status::Ok();
}

static Status RemoveAt(int parent, const char* name, dev_t dev, const std::string& shown) {
  struct stat st;
  if (::fstatat(parent, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return Status::FromErrno(errno, "stat", shown);
  }
  if (S_ISDIR(st.st_mode)) {
    if (st.st_dev != dev) return Status::FromErrno(EXDEV, "remove (mount point)", shown);
    int fd = ::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno(errno, "open", shown);
    DIR* dir = ::fdopendir(fd);
    if (dir == nullptr) {
      ::close(fd);
      return Status::FromErrno(errno, "fdopendir", shown);
    }
    Status result;
    while (struct dirent* e = ::readdir(dir)) {
      std::string_view n = e->d_name;
      if (n == "." || n == "..") continue;
      result = RemoveAt(dirfd(dir), e->d_name, dev, shown + "/" + e->d_name);
      if (!result.ok()) break;
    }
    ::closedir(dir);
    RETURN_IF_ERROR(result);
    if (::unlinkat(parent, name, AT_REMOVEDIR) != 0) return Status::FromErrno(errno, "rmdir", shown);
    return Status::Ok();
  }
  if (::unlinkat(parent, name, 0) != 0 && errno != ENOENT) {
    return Status::FromErrno(errno, "unlink", shown);
  }
  return Status::Ok();
}

Status RemoveTree(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return Status::Ok();
    return Status::FromErrno(errno, "stat", path);
  }
  std::string parent = DirName(path);
  std::string base = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
  UniqueFd pfd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!pfd) return Status::FromErrno(errno, "open", parent);
  return RemoveAt(pfd.get(), base.c_str(), st.st_dev, path);
}

std::string JoinPath(std::string_view a, std::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  std::string out(a);
  if (out.back() != '/') out += '/';
  while (!b.empty() && b.front() == '/') b.remove_prefix(1);
  out += b;
  return out;
}

}  // namespace ctrsnap
