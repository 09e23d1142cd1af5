#include "layers/drift/root_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

namespace ctrsnap::drift {

Result<UniqueFd> OpenInRoot(int rootfd, std::string_view path, int flags) {
  struct open_how how = {};
  how.flags = static_cast<unsigned>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  std::string p(path);
  while (!p.empty() && p.front() == '/') p.erase(0, 1);
  if (p.empty()) p = ".";
  long fd;
  do {
    fd = syscall(SYS_openat2, rootfd, p.c_str(), &how, sizeof(how));
  } while (fd < 0 && (errno == EAGAIN || errno == EINTR));
  if (fd < 0) return Status::FromErrno(errno, "open", "/" + p);
  return UniqueFd(static_cast<int>(fd));
}

Result<std::string> ReadPrefix(int fd, size_t max_bytes) {
  std::string out;
  size_t chunk = max_bytes < 65536 ? max_bytes : 65536;
  while (out.size() < max_bytes) {
    size_t old = out.size();
    size_t want = std::min(chunk, max_bytes - old);
    out.resize(old + want);
    ssize_t n = ::pread(fd, out.data() + old, want, static_cast<off_t>(old));
    if (n < 0) {
      if (errno == EINTR) {
        out.resize(old);
        continue;
      }
      return Status::FromErrno(errno, "read");
    }
    out.resize(old + static_cast<size_t>(n));
    if (n == 0) break;
  }
  return out;
}

// Reopens the file behind the O_PATH descriptor PATH_FD for reading, only
// if it is a regular file: opening a FIFO would block and opening a device
// of an untrusted tree could have side effects. /proc/self/fd reopens the
// very inode already resolved, so there is no window for a swap.
static Result<UniqueFd> ReopenRegular(UniqueFd path_fd, std::string_view shown) {
  struct stat st;
  if (::fstat(path_fd.get(), &st) != 0) return Status::FromErrno(errno, "stat", shown);
  if (!S_ISREG(st.st_mode)) return Status::InvalidArgument(std::string(shown) + ": not a regular file");
  std::string proc = "/proc/self/fd/" + std::to_string(path_fd.get());
  UniqueFd fd(::open(proc.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd) return Status::FromErrno(errno, "reopen", shown);
  return fd;
}

Result<UniqueFd> OpenRegularInRoot(int rootfd, std::string_view path) {
  ASSIGN_OR_RETURN(UniqueFd p, OpenInRoot(rootfd, path, O_PATH));
  return ReopenRegular(std::move(p), path);
}

Result<std::string> ReadFileInRoot(int rootfd, std::string_view path, size_t max_bytes) {
  ASSIGN_OR_RETURN(UniqueFd fd, OpenRegularInRoot(rootfd, path));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, "stat", path);
  if (static_cast<size_t>(st.st_size) > max_bytes) {
    return Status::InvalidArgument(std::string(path) + ": larger than " +
                                   std::to_string(max_bytes) + " bytes");
  }
  auto r = ReadPrefix(fd.get(), max_bytes);
  if (!r.ok()) return r.status().WithContext(path);
  return r;
}

Status ForEachEntry(int dirfd, const std::function<void(std::string_view, unsigned char)>& fn) {
  int dup = ::fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return Status::FromErrno(errno, "dup");
  DIR* dir = ::fdopendir(dup);
  if (dir == nullptr) {
    int e = errno;
    ::close(dup);
    return Status::FromErrno(e, "fdopendir");
  }
  std::unique_ptr<DIR, int (*)(DIR*)> guard(dir, ::closedir);
  ::rewinddir(dir);
  errno = 0;
  while (struct dirent* e = ::readdir(dir)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") {
      unsigned char type = e->d_type;
      if (type == DT_UNKNOWN) {
        struct stat st;
        if (::fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0) {
          type = S_ISDIR(st.st_mode)   ? DT_DIR
                 : S_ISREG(st.st_mode) ? DT_REG
                 : S_ISLNK(st.st_mode) ? DT_LNK
                                       : DT_UNKNOWN;
        }
      }
      fn(n, type);
    }
    errno = 0;
  }
  if (errno != 0) return Status::FromErrno(errno, "readdir");
  return Status::Ok();
}

Result<UniqueFd> OpenSubdir(int dirfd, std::string_view name) {
  std::string n(name);
  UniqueFd fd(::openat(dirfd, n.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, "open", n);
  return fd;
}

Result<UniqueFd> OpenFileNoFollow(int dirfd, std::string_view name) {
  std::string n(name);
  UniqueFd p(::openat(dirfd, n.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!p) return Status::FromErrno(errno, "open", n);
  return ReopenRegular(std::move(p), n);
}

Result<std::string> Sha256OfFd(int fd) {
  std::unique_ptr<EVP_MD_CTX, void (*)(EVP_MD_CTX*)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    return Status::Internal("sha256 init failed");
  }
  char buf[65536];
  off_t off = 0;
  for (;;) {
    ssize_t n = ::pread(fd, buf, sizeof(buf), off);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(errno, "read");
    }
    if (n == 0) break;
    EVP_DigestUpdate(ctx.get(), buf, static_cast<size_t>(n));
    off += n;
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), md, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "sha256:";
  for (unsigned int i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

}  // namespace ctrsnap::drift
