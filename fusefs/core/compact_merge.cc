#include "fusefs/core/compact_merge.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <set>

#include "common/unique_fd.h"

namespace ctrsnap::fs {
namespace {

constexpr const char kOpaque[] = "trusted.overlay.opaque";
constexpr const char kRedirect[] = "trusted.overlay.redirect";
constexpr const char kMetacopy[] = "trusted.overlay.metacopy";
constexpr const char kOrigin[] = "trusted.overlay.origin";

Status Err(const char* op, const std::string& what) { return Status::FromErrno(errno, op, what); }

bool IsWhiteout(const struct stat& st) {
  return S_ISCHR(st.st_mode) && major(st.st_rdev) == 0 && minor(st.st_rdev) == 0;
}

// An xattr of FD; "" when absent.
std::string GetXattr(int fd, const char* name) {
  char buf[4096];
  ssize_t n = ::fgetxattr(fd, name, buf, sizeof(buf));
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
}

bool HasXattr(int fd, const char* name) {
  return ::fgetxattr(fd, name, nullptr, 0) >= 0;
}

// Copies the xattrs of FROM onto TO, except the names in SKIP.
Status CopyXattrs(int from, int to, std::initializer_list<const char*> skip, const std::string& what) {
  ssize_t len = ::flistxattr(from, nullptr, 0);
  if (len < 0) return errno == ENOTSUP ? Status::Ok() : Err("listxattr", what);
  std::string names(static_cast<size_t>(len), '\0');
  len = ::flistxattr(from, names.data(), names.size());
  if (len < 0) return Err("listxattr", what);
  for (size_t pos = 0; pos < static_cast<size_t>(len);) {
    const char* name = names.c_str() + pos;
    pos += std::strlen(name) + 1;
    bool skipped = false;
    for (const char* s : skip) skipped = skipped || std::strcmp(s, name) == 0;
    if (skipped) continue;
    ssize_t vlen = ::fgetxattr(from, name, nullptr, 0);
    if (vlen < 0) return Err("getxattr", what + " " + name);
    std::string value(static_cast<size_t>(vlen), '\0');
    vlen = ::fgetxattr(from, name, value.data(), value.size());
    if (vlen < 0) return Err("getxattr", what + " " + name);
    if (::fsetxattr(to, name, value.data(), static_cast<size_t>(vlen), 0) != 0) {
      return Err("setxattr", what + " " + name);
    }
  }
  return Status::Ok();
}

struct Part {
  size_t layer = 0;
  std::shared_ptr<UniqueFd> fd;  // O_RDONLY directory
};

// The result of looking one name up through the layers (ovl_lookup's walk).
struct Found {
  enum Kind { kNone, kWhiteout, kFile, kDir } kind = kNone;
  size_t layer = 0;         // of the topmost entry
  std::vector<Part> parts;  // kDir: each layer's directory, top first
  size_t stop = SIZE_MAX;   // kDir: first layer whose copy no longer counts
  // kDir: how the lookup continues under the range (after the merge, from OUT).
  bool abs = false;
  std::string key;  // abs: path from the root; else the name in the parent
};

class Merger {
 public:
  Merger(size_t range, std::vector<UniqueFd> roots) : range_(range), roots_(std::move(roots)) {}
  Status MergeDir(const std::vector<Part>& parts, int out, const std::string& path);
  MergeStats stats;

 private:
  // Classifies NAME in directory DIRFD of layer L: 0 missing, else fills ST.
  static bool StatAt(int dirfd, const std::string& name, struct stat* st) {
    return ::fstatat(dirfd, name.c_str(), st, AT_SYMLINK_NOFOLLOW) == 0;
  }
  // Opens the directory PATH (relative, '/'-separated) of layer L without
  // following symlinks; null when some component is missing or not a dir.
  std::shared_ptr<UniqueFd> OpenAbs(size_t l, const std::string& path, bool* blocked);
  Found Lookup(const std::vector<Part>& parent, const std::string& name);
  Status Emit(const std::vector<Part>& parent, const std::string& name, const Found& f, int out,
              const std::string& path);
  Status Materialize(int src_dir, const std::string& name, int data_fd, int out,
                     const std::string& path);

  const size_t range_;  // layers [0, range_) are merged, the rest are below
  std::vector<UniqueFd> roots_;
};

std::shared_ptr<UniqueFd> Merger::OpenAbs(size_t l, const std::string& path, bool* blocked) {
  auto cur = std::make_shared<UniqueFd>(::openat(roots_[l].get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  size_t pos = 0;
  while (pos < path.size() && *cur) {
    size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    std::string comp = path.substr(pos, next - pos);
    pos = next + 1;
    if (comp.empty()) continue;
    struct stat st;
    if (!StatAt(cur->get(), comp, &st)) return nullptr;
    if (!S_ISDIR(st.st_mode)) {
      *blocked = true;  // a whiteout or file on the way ends the lookup
      return nullptr;
    }
    cur = std::make_shared<UniqueFd>(
        ::openat(cur->get(), comp.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  }
  return *cur ? cur : nullptr;
}

Found Merger::Lookup(const std::vector<Part>& parent, const std::string& name) {
  Found f;
  f.key = name;
  bool captured = false;
  bool abs_key = false;
  std::string key = name;
  size_t pi = 0;           // next parent part (relative mode)
  size_t next_layer = 0;   // next layer (absolute mode)
  for (;;) {
    size_t l;
    std::shared_ptr<UniqueFd> dir;
    struct stat st;
    bool found = false;
    if (!abs_key) {
      if (pi >= parent.size()) break;
      l = parent[pi].layer;
      dir = parent[pi++].fd;
      found = StatAt(dir->get(), key, &st);
    } else {
      if (next_layer >= roots_.size()) break;
      l = next_layer++;
      size_t slash = key.rfind('/');
      bool blocked = false;
      dir = OpenAbs(l, slash == std::string::npos ? "" : key.substr(0, slash), &blocked);
      if (blocked && f.kind == Found::kDir) {
        f.stop = l;
        break;
      }
      found = dir && StatAt(dir->get(), key.substr(slash + 1), &st);
    }
    if (!captured && l >= range_) {
      captured = true;
      f.abs = abs_key;
      f.key = key;
    }
    if (!found) continue;
    const std::string leaf = abs_key ? key.substr(key.rfind('/') + 1) : key;
    if (f.kind == Found::kNone && !S_ISDIR(st.st_mode)) {
      f.kind = IsWhiteout(st) ? Found::kWhiteout : Found::kFile;
      f.layer = l;
      return f;
    }
    if (!S_ISDIR(st.st_mode)) {  // a whiteout or a file under a directory ends it
      f.stop = l;
      break;
    }
    auto fd = std::make_shared<UniqueFd>(
        ::openat(dir->get(), leaf.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!*fd) continue;
    if (f.kind == Found::kNone) {
      f.kind = Found::kDir;
      f.layer = l;
    }
    f.parts.push_back({l, fd});
    if (GetXattr(fd->get(), kOpaque) == "y") {
      f.stop = l + 1;
      break;
    }
    std::string redirect = GetXattr(fd->get(), kRedirect);
    if (!redirect.empty() && redirect[0] == '/') {
      abs_key = true;
      key = redirect.substr(1);
      next_layer = l + 1;
    } else if (!redirect.empty() && !abs_key) {
      key = redirect;
    }
  }
  if (!captured) {
    f.abs = abs_key;
    f.key = key;
  }
  return f;
}

Status Merger::Materialize(int src_dir, const std::string& name, int data_fd, int out,
                           const std::string& path) {
  UniqueFd meta(::openat(src_dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!meta) return Err("open metacopy", path);
  struct stat st;
  if (::fstat(meta.get(), &st) != 0) return Err("fstat", path);
  UniqueFd dst(::openat(out, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!dst) return Err("create", path);
  off_t in_off = 0, out_off = 0;
  for (;;) {
    ssize_t n = ::copy_file_range(data_fd, &in_off, dst.get(), &out_off, 1 << 30, 0);
    if (n < 0 && (errno == EXDEV || errno == EINVAL || errno == ENOSYS || errno == EOPNOTSUPP)) {
      char buf[1 << 16];  // another filesystem (a lower dir): plain copy
      n = ::pread(data_fd, buf, sizeof(buf), in_off);
      if (n > 0 && ::pwrite(dst.get(), buf, static_cast<size_t>(n), out_off) != n) n = -1;
      if (n > 0) in_off += n, out_off += n;
    }
    if (n < 0) return Err("copy data", path);
    if (n == 0) break;
  }
  if (::ftruncate(dst.get(), st.st_size) != 0) return Err("ftruncate", path);
  if (::fchown(dst.get(), st.st_uid, st.st_gid) != 0) return Err("fchown", path);
  if (::fchmod(dst.get(), st.st_mode & 07777) != 0) return Err("fchmod", path);
  RETURN_IF_ERROR(CopyXattrs(meta.get(), dst.get(), {kMetacopy, kRedirect, kOrigin}, path));
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::futimens(dst.get(), times) != 0) return Err("futimens", path);
  ++stats.materialized;
  return Status::Ok();
}

Status Merger::Emit(const std::vector<Part>& parent, const std::string& name, const Found& f,
                    int out, const std::string& path) {
  int src = -1;
  for (const auto& p : parent) {
    if (p.layer == f.layer) src = p.fd->get();
  }
  if (f.kind == Found::kWhiteout) {
    // Needed only when something under the range has this name.
    bool below = false;
    struct stat st;
    for (const auto& p : parent) below = below || (p.layer >= range_ && StatAt(p.fd->get(), name, &st));
    if (!below) {
      ++stats.whiteouts_dropped;
      return Status::Ok();
    }
    ++stats.whiteouts_kept;
    if (src >= 0 && ::linkat(src, name.c_str(), out, name.c_str(), 0) == 0) return Status::Ok();
    if (::mknodat(out, name.c_str(), S_IFCHR | 0000, makedev(0, 0)) != 0) return Err("mknod whiteout", path);
    return Status::Ok();
  }
  if (f.kind == Found::kFile) {
    if (src < 0) return Status::Internal("merge " + path + ": entry outside its parent's layers");
    UniqueFd file(::openat(src, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    struct stat st;
    if (!file || ::fstat(file.get(), &st) != 0) return Err("open", path);
    if (S_ISREG(st.st_mode)) {
      UniqueFd rd(::openat(src, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
      if (rd && HasXattr(rd.get(), kMetacopy)) {
        // Where the data is: the next copy down (by its redirect, or by name).
        std::vector<Part> rest;
        for (const auto& p : parent) {
          if (p.layer > f.layer) rest.push_back(p);
        }
        std::string redirect = GetXattr(rd.get(), kRedirect);
        bool touches_range = false;
        UniqueFd data;
        if (!redirect.empty() && redirect[0] == '/') {
          for (size_t l = f.layer + 1; l < roots_.size() && !data; ++l) {
            bool blocked = false;
            size_t slash = redirect.rfind('/');
            auto d = OpenAbs(l, redirect.substr(1, slash == 0 ? 0 : slash - 1), &blocked);
            struct stat ds;
            std::string leaf = redirect.substr(slash + 1);
            if (!d || !StatAt(d->get(), leaf, &ds)) continue;
            touches_range = touches_range || l < range_;
            data.reset(::openat(d->get(), leaf.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
            if (data && HasXattr(data.get(), kMetacopy)) data.reset();  // metadata only: go on
          }
        } else {
          for (const auto& p : rest) {
            struct stat ds;
            if (!StatAt(p.fd->get(), name, &ds)) continue;
            touches_range = touches_range || p.layer < range_;
            data.reset(::openat(p.fd->get(), name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
            if (data && HasXattr(data.get(), kMetacopy)) {
              data.reset();  // metadata only: go on
              continue;
            }
            break;
          }
        }
        if (touches_range) {
          if (!data) return Err("open metacopy data", path);
          return Materialize(src, name, data.get(), out, path);
        }
      }
    }
    if (::linkat(src, name.c_str(), out, name.c_str(), 0) != 0) return Err("link", path);
    ++stats.linked;
    return Status::Ok();
  }
  // A directory: new, with the attributes of its newest copy.
  const int top = f.parts.front().fd->get();
  struct stat st;
  if (::fstat(top, &st) != 0) return Err("fstat", path);
  if (::mkdirat(out, name.c_str(), 0700) != 0) return Err("mkdir", path);
  UniqueFd sub(::openat(out, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!sub) return Err("open", path);
  RETURN_IF_ERROR(CopyXattrs(top, sub.get(), {kOpaque, kRedirect}, path));
  if (f.stop <= range_) {  // the lookup never reaches below the range
    if (::fsetxattr(sub.get(), kOpaque, "y", 1, 0) != 0) return Err("set opaque", path);
  } else if (f.abs || f.key != name) {
    std::string r = f.abs ? "/" + f.key : f.key;
    if (::fsetxattr(sub.get(), kRedirect, r.data(), r.size(), 0) != 0) return Err("set redirect", path);
  }
  RETURN_IF_ERROR(MergeDir(f.parts, sub.get(), path));
  if (::fchown(sub.get(), st.st_uid, st.st_gid) != 0) return Err("fchown", path);
  if (::fchmod(sub.get(), st.st_mode & 07777) != 0) return Err("fchmod", path);
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::futimens(sub.get(), times) != 0) return Err("futimens", path);
  ++stats.dirs;
  return Status::Ok();
}

Status Merger::MergeDir(const std::vector<Part>& parts, int out, const std::string& path) {
  std::set<std::string> names;
  for (const auto& p : parts) {
    if (p.layer >= range_) break;
    int fd = ::openat(p.fd->get(), ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR* d = fd >= 0 ? ::fdopendir(fd) : nullptr;
    if (!d) {
      if (fd >= 0) ::close(fd);
      return Err("opendir", path);
    }
    while (dirent* e = ::readdir(d)) {
      if (std::strcmp(e->d_name, ".") != 0 && std::strcmp(e->d_name, "..") != 0) names.insert(e->d_name);
    }
    ::closedir(d);
  }
  for (const auto& name : names) {
    Found f = Lookup(parts, name);
    if (f.kind == Found::kNone || f.layer >= range_) continue;
    RETURN_IF_ERROR(Emit(parts, name, f, out, path + "/" + name));
  }
  return Status::Ok();
}

}  // namespace

Result<MergeStats> MergeGenerations(const MergeInput& in) {
  if (in.range.empty()) return Status::InvalidArgument("merge: no generations");
  std::vector<UniqueFd> roots;
  std::vector<Part> parts;
  auto add = [&](const std::string& dir) -> Status {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return Err("open layer", dir);
    UniqueFd root(::open(dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!root) return Err("open layer", dir);
    parts.push_back({roots.size(), std::make_shared<UniqueFd>(std::move(fd))});
    roots.push_back(std::move(root));
    return Status::Ok();
  };
  for (const auto& d : in.range) RETURN_IF_ERROR(add(d));
  for (const auto& d : in.below) RETURN_IF_ERROR(add(d));
  UniqueFd out(::open(in.out.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!out) return Err("open", in.out);
  // The root: attributes of the newest generation's root.
  struct stat st;
  if (::fstat(parts.front().fd->get(), &st) != 0) return Err("fstat", in.range.front());
  Merger m(in.range.size(), std::move(roots));
  RETURN_IF_ERROR(m.MergeDir(parts, out.get(), ""));
  RETURN_IF_ERROR(CopyXattrs(parts.front().fd->get(), out.get(), {kOpaque, kRedirect}, in.out));
  if (::fchown(out.get(), st.st_uid, st.st_gid) != 0) return Err("fchown", in.out);
  if (::fchmod(out.get(), st.st_mode & 07777) != 0) return Err("fchmod", in.out);
  const struct timespec times[2] = {st.st_atim, st.st_mtim};
  if (::futimens(out.get(), times) != 0) return Err("futimens", in.out);
  return m.stats;
}

}  // namespace ctrsnap::fs
