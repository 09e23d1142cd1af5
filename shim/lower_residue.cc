#include "shim/lower_residue.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <map>
#include <set>
#include <utility>

#include "common/file_util.h"
#include "common/unique_fd.h"

namespace ctrsnap::shim {
namespace {

constexpr const char* kOverlayPrefixes[] = {"trusted.overlay.", "user.overlay."};

std::string Join(const std::string& dir, const std::string& name) {
  return dir.empty() ? name : dir + "/" + name;
}

std::string Parent(const std::string& rel) {
  auto pos = rel.rfind('/');
  return pos == std::string::npos ? std::string() : rel.substr(0, pos);
}

// "/a//./b/" -> "a/b"; "" for a path with ".." (never followed).
std::string Clean(const std::string& path) {
  std::string out;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    std::string comp = path.substr(i, j - i);
    if (comp == "..") return "";
    if (!comp.empty() && comp != ".") out += (out.empty() ? "" : "/") + comp;
    i = j + 1;
  }
  return out;
}

// The overlay xattr SUFFIX ("redirect", "metacopy") of FD, under either prefix.
bool OverlayXattr(int fd, const char* suffix, std::string* value) {
  for (const char* prefix : kOverlayPrefixes) {
    std::string name = std::string(prefix) + suffix;
    char buf[4096];
    ssize_t n = ::fgetxattr(fd, name.c_str(), buf, sizeof(buf));
    if (n >= 0) {
      if (value != nullptr) {
        value->assign(buf, static_cast<size_t>(n));
        while (!value->empty() && value->back() == '\0') value->pop_back();
      }
      return true;
    }
  }
  return false;
}

// What the generations need from the lower, as clean relative paths.
struct Needs {
  std::set<std::string> files;  // metacopy data
  std::set<std::string> trees;  // redirect targets: whole subtrees
  ResidueStats stats;
};

Status WalkGeneration(int dirfd, const std::string& rel, Needs* needs) {
  UniqueFd dup(::dup(dirfd));
  if (!dup) return Status::FromErrno(errno, "dup", rel);
  DIR* d = ::fdopendir(dup.get());
  if (d == nullptr) return Status::FromErrno(errno, "fdopendir", rel);
  (void)dup.release();
  std::vector<std::pair<std::string, unsigned char>> names;
  errno = 0;
  while (dirent* de = ::readdir(d)) {
    std::string n = de->d_name;
    if (n != "." && n != "..") names.emplace_back(n, de->d_type);
  }
  ::closedir(d);
  for (const auto& [name, type] : names) {
    // Only directories and regular files carry redirect/metacopy xattrs.
    if (type != DT_DIR && type != DT_REG && type != DT_UNKNOWN) continue;
    std::string path = Join(rel, name);
    UniqueFd fd(::openat(dirfd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!fd) {
      if (errno == ELOOP || errno == ENXIO || errno == ENOENT) continue;  // not ours to read
      return Status::FromErrno(errno, "open", path);
    }
    struct stat st{};
    if (::fstat(fd.get(), &st) != 0) return Status::FromErrno(errno, "fstat", path);
    std::string redirect;
    bool has_redirect = OverlayXattr(fd.get(), "redirect", &redirect) && !redirect.empty();
    // overlayfs writes "/abs/path" or, for a rename within one directory, "name".
    std::string target;
    if (has_redirect) {
      target = Clean(redirect[0] == '/' ? redirect : Join(Parent(path), redirect));
    }
    if (S_ISDIR(st.st_mode)) {
      if (has_redirect && !target.empty()) {
        needs->trees.insert(target);
        needs->stats.redirects++;
      }
      RETURN_IF_ERROR(WalkGeneration(fd.get(), path, needs));
    } else if (S_ISREG(st.st_mode) && OverlayXattr(fd.get(), "metacopy", nullptr)) {
      std::string data = has_redirect ? target : path;
      if (!data.empty()) {
        needs->files.insert(data);
        needs->stats.metacopy_files++;
      }
    }
  }
  return Status::Ok();
}

// Copies entries from the lower into DEST, metadata included; hard links in
// the lower stay hard links in DEST.
class Copier {
 public:
  Copier(int lower, int dest, ResidueStats* stats) : lower_(lower), dest_(dest), stats_(stats) {}

  // Copies REL (and, with TREE, everything below it), creating its parents.
  Status CopyPath(const std::string& rel, bool tree) {
    std::string parent = Parent(rel);
    std::string name = rel.substr(parent.empty() ? 0 : parent.size() + 1);
    RETURN_IF_ERROR(EnsureDirs(parent));
    auto src_dir = OpenBeneath(lower_, parent.empty() ? "." : parent, O_RDONLY | O_DIRECTORY);
    if (!src_dir.ok()) return Absent(src_dir.status());
    auto dst_dir = OpenBeneath(dest_, parent.empty() ? "." : parent, O_RDONLY | O_DIRECTORY);
    if (!dst_dir.ok()) return dst_dir.status();
    struct stat st{};
    if (::fstatat(src_dir->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return Status::Ok();
      return Status::FromErrno(errno, "stat", rel);
    }
    if (!tree && !S_ISREG(st.st_mode)) return Status::Ok();  // metacopy data is a regular file
    return CopyEntry(src_dir->get(), dst_dir->get(), name, rel, st, tree);
  }

  // Directory times last: creating entries inside changes them.
  Status FinishDirTimes() {
    std::sort(dir_times_.begin(), dir_times_.end(),
              [](const auto& a, const auto& b) { return a.first.size() > b.first.size(); });
    for (const auto& [rel, times] : dir_times_) {
      if (::utimensat(dest_, rel.empty() ? "." : rel.c_str(), times.data(), AT_SYMLINK_NOFOLLOW) != 0) {
        return Status::FromErrno(errno, "utimensat", rel);
      }
    }
    return Status::Ok();
  }

 private:
  static Status Absent(const Status& st) {
    // A parent missing, or a symlink in the way: the lower has nothing there.
    if (st.err() == ENOENT || st.err() == ENOTDIR || st.err() == ELOOP || st.err() == EXDEV) {
      return Status::Ok();
    }
    return st;
  }

  // Creates each directory of REL missing in DEST from the lower's attributes.
  Status EnsureDirs(const std::string& rel) {
    std::string done;
    size_t i = 0;
    while (i < rel.size()) {
      size_t j = rel.find('/', i);
      if (j == std::string::npos) j = rel.size();
      std::string name = rel.substr(i, j - i);
      std::string path = Join(done, name);
      struct stat dst{};
      if (::fstatat(dest_, path.c_str(), &dst, AT_SYMLINK_NOFOLLOW) != 0) {
        auto src_dir = OpenBeneath(lower_, done.empty() ? "." : done, O_RDONLY | O_DIRECTORY);
        if (!src_dir.ok()) return Absent(src_dir.status());
        struct stat st{};
        if (::fstatat(src_dir->get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISDIR(st.st_mode)) {
          return Status::Ok();  // CopyPath then finds no source either
        }
        auto dst_dir = OpenBeneath(dest_, done.empty() ? "." : done, O_RDONLY | O_DIRECTORY);
        if (!dst_dir.ok()) return dst_dir.status();
        RETURN_IF_ERROR(CopyEntry(src_dir->get(), dst_dir->get(), name, path, st, false));
      }
      done = path;
      i = j + 1;
    }
    return Status::Ok();
  }

  Status CopyEntry(int src_dir, int dst_dir, const std::string& name, const std::string& rel,
                   const struct stat& st, bool tree) {
    const char* n = name.c_str();
    if (S_ISDIR(st.st_mode)) {
      if (::mkdirat(dst_dir, n, 0700) != 0) {
        if (errno != EEXIST) return Status::FromErrno(errno, "mkdir", rel);
        if (!tree) return Status::Ok();  // made before, as a parent or another tree
      } else {
        stats_->entries++;
        dir_times_.emplace_back(rel, std::array<timespec, 2>{st.st_atim, st.st_mtim});
      }
      UniqueFd src(::openat(src_dir, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!src) return Status::FromErrno(errno, "open", rel);
      UniqueFd dst(::openat(dst_dir, n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!dst) return Status::FromErrno(errno, "open residue", rel);
      RETURN_IF_ERROR(CopyAttrs(src.get(), dst_dir, n, rel, st));
      if (tree) RETURN_IF_ERROR(CopyChildren(src.get(), dst.get(), rel));
      return Status::Ok();
    }
    struct stat have{};
    if (::fstatat(dst_dir, n, &have, AT_SYMLINK_NOFOLLOW) == 0) return Status::Ok();  // copied before
    if (S_ISREG(st.st_mode) && st.st_nlink > 1) {
      auto it = links_.find({st.st_dev, st.st_ino});
      if (it != links_.end()) {
        if (::linkat(dest_, it->second.c_str(), dst_dir, n, 0) != 0) {
          return Status::FromErrno(errno, "link", rel);
        }
        stats_->entries++;
        return Status::Ok();
      }
      links_[{st.st_dev, st.st_ino}] = rel;
    }
    UniqueFd src;
    if (S_ISREG(st.st_mode)) {
      src.reset(::openat(src_dir, n, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (!src) return Status::FromErrno(errno, "open", rel);
      UniqueFd dst(::openat(dst_dir, n, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
      if (!dst) return Status::FromErrno(errno, "create residue", rel);
      RETURN_IF_ERROR(CopyData(src.get(), dst.get(), rel));
    } else if (S_ISLNK(st.st_mode)) {
      std::string target(static_cast<size_t>(st.st_size) + 1, '\0');
      ssize_t len = ::readlinkat(src_dir, n, target.data(), target.size());
      if (len < 0) return Status::FromErrno(errno, "readlink", rel);
      target.resize(static_cast<size_t>(len));
      if (::symlinkat(target.c_str(), dst_dir, n) != 0) return Status::FromErrno(errno, "symlink", rel);
    } else {
      if (::mknodat(dst_dir, n, st.st_mode & (S_IFMT | 0600), st.st_rdev) != 0) {
        return Status::FromErrno(errno, "mknod", rel);
      }
    }
    stats_->entries++;
    RETURN_IF_ERROR(CopyAttrs(src.get(), dst_dir, n, rel, st));
    timespec times[2] = {st.st_atim, st.st_mtim};
    if (::utimensat(dst_dir, n, times, AT_SYMLINK_NOFOLLOW) != 0) {
      return Status::FromErrno(errno, "utimensat", rel);
    }
    return Status::Ok();
  }

  Status CopyChildren(int src, int dst, const std::string& rel) {
    UniqueFd dup(::dup(src));
    if (!dup) return Status::FromErrno(errno, "dup", rel);
    DIR* d = ::fdopendir(dup.get());
    if (d == nullptr) return Status::FromErrno(errno, "fdopendir", rel);
    (void)dup.release();
    std::vector<std::string> names;
    while (dirent* de = ::readdir(d)) {
      std::string n = de->d_name;
      if (n != "." && n != "..") names.push_back(n);
    }
    ::closedir(d);
    for (const auto& name : names) {
      struct stat st{};
      if (::fstatat(src, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;
        return Status::FromErrno(errno, "stat", Join(rel, name));
      }
      RETURN_IF_ERROR(CopyEntry(src, dst, name, Join(rel, name), st, true));
    }
    return Status::Ok();
  }

  Status CopyData(int src, int dst, const std::string& rel) {
    for (;;) {
      ssize_t n = ::copy_file_range(src, nullptr, dst, nullptr, 1 << 30, 0);
      if (n > 0) {
        stats_->bytes += static_cast<uint64_t>(n);
        continue;
      }
      if (n == 0) return Status::Ok();
      if (errno != EXDEV && errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP) {
        return Status::FromErrno(errno, "copy_file_range", rel);
      }
      break;  // not between these filesystems: plain copy from where it stopped
    }
    char buf[1 << 16];
    for (;;) {
      ssize_t n = ::read(src, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Status::FromErrno(errno, "read", rel);
      if (n == 0) return Status::Ok();
      RETURN_IF_ERROR(WriteAll(dst, std::string_view(buf, static_cast<size_t>(n))));
      stats_->bytes += static_cast<uint64_t>(n);
    }
  }

  // Owner, mode and (for files and directories: SRC_FD open) xattrs of NAME.
  static Status CopyAttrs(int src_fd, int dst_dir, const char* name, const std::string& rel,
                          const struct stat& st) {
    if (::fchownat(dst_dir, name, st.st_uid, st.st_gid, AT_SYMLINK_NOFOLLOW) != 0 && errno != EPERM) {
      return Status::FromErrno(errno, "chown", rel);
    }
    if (S_ISLNK(st.st_mode)) return Status::Ok();
    if (::fchmodat(dst_dir, name, st.st_mode & 07777, 0) != 0) {
      return Status::FromErrno(errno, "chmod", rel);
    }
    if (src_fd < 0) return Status::Ok();
    UniqueFd dst(::openat(dst_dir, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!dst) return Status::Ok();
    char names[65536];
    ssize_t len = ::flistxattr(src_fd, names, sizeof(names));
    for (ssize_t i = 0; len > 0 && i < len;) {
      std::string xname(names + i);
      i += static_cast<ssize_t>(xname.size()) + 1;
      std::string value(65536, '\0');
      ssize_t vlen = ::fgetxattr(src_fd, xname.c_str(), value.data(), value.size());
      if (vlen < 0) continue;
      // Best effort: a name this filesystem refuses (security.selinux without
      // a policy) is one the layer writer leaves out anyway.
      (void)::fsetxattr(dst.get(), xname.c_str(), value.data(), static_cast<size_t>(vlen), 0);
    }
    return Status::Ok();
  }

  int lower_, dest_;
  ResidueStats* stats_;
  std::map<std::pair<dev_t, ino_t>, std::string> links_;  // first residue path of each inode
  std::vector<std::pair<std::string, std::array<timespec, 2>>> dir_times_;
};

}  // namespace

Result<ResidueStats> BuildLowerResidue(const std::vector<std::string>& gen_dirs,
                                       const std::string& lower, const std::string& dest) {
  Needs needs;
  for (const auto& dir : gen_dirs) {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) {
      if (errno == ENOENT) continue;  // a generation never written
      return Status::FromErrno(errno, "open generation", dir);
    }
    RETURN_IF_ERROR(WalkGeneration(fd.get(), "", &needs).WithContext("scan " + dir));
  }
  UniqueFd lower_fd(::open(lower.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!lower_fd) return Status::FromErrno(errno, "open lower", lower);
  if (::mkdir(dest.c_str(), 0700) != 0) return Status::FromErrno(errno, "mkdir", dest);
  UniqueFd dest_fd(::open(dest.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dest_fd) return Status::FromErrno(errno, "open", dest);
  ResidueStats stats = needs.stats;
  Copier copier(lower_fd.get(), dest_fd.get(), &stats);
  // The root's own attributes (an opaque root's flattening reads them).
  struct stat root{};
  if (::fstat(lower_fd.get(), &root) != 0) return Status::FromErrno(errno, "stat", lower);
  if (::fchown(dest_fd.get(), root.st_uid, root.st_gid) != 0 ||
      ::fchmod(dest_fd.get(), root.st_mode & 07777) != 0) {
    return Status::FromErrno(errno, "chown/chmod", dest);
  }
  // Trees first (a file inside one is then copied already), shortest first.
  for (const auto& t : needs.trees) {
    RETURN_IF_ERROR(copier.CopyPath(t, /*tree=*/true).WithContext("keep " + lower + "/" + t));
  }
  for (const auto& f : needs.files) {
    RETURN_IF_ERROR(copier.CopyPath(f, /*tree=*/false).WithContext("keep " + lower + "/" + f));
  }
  RETURN_IF_ERROR(copier.FinishDirTimes());
  return stats;
}

}  // namespace ctrsnap::shim
