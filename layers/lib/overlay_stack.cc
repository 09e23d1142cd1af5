#include "layers/lib/overlay_stack.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>

#include "common/file_util.h"

namespace ctrsnap::layers {
namespace {

std::string Parent(const std::string& rel) {
  auto pos = rel.rfind('/');
  return pos == std::string::npos ? std::string() : rel.substr(0, pos);
}
std::string Base(const std::string& rel) {
  auto pos = rel.rfind('/');
  return pos == std::string::npos ? rel : rel.substr(pos + 1);
}

bool KeepImageXattr(const std::string& name) {
  if (name == "security.capability") return true;
  if (name == "system.posix_acl_access" || name == "system.posix_acl_default") return true;
  if (name.rfind("user.", 0) == 0 && name.rfind("user.overlay.", 0) != 0) return true;
  return false;
}

// Name without the "trusted." / "user." prefix for overlay xattrs, or "".
std::string OverlayXattr(const std::string& name) {
  for (const char* prefix : {"trusted.overlay.", "user.overlay."}) {
    std::string_view p(prefix);
    if (name.rfind(p, 0) == 0) return name.substr(p.size());
  }
  return {};
}

}  // namespace

// Normalises a relative path: no leading/trailing '/', no "." or "..".
Result<std::string> CleanRelPath(std::string_view path) {
  std::string out;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string_view::npos) j = path.size();
    std::string_view comp = path.substr(i, j - i);
    if (comp == "..") return Status::InvalidArgument("path escapes the layer: " + std::string(path));
    if (!comp.empty() && comp != ".") {
      if (!out.empty()) out.push_back('/');
      out.append(comp);
    }
    i = j + 1;
  }
  return out;
}


Status ReadEntryXattrs(int fd, const std::string& rel, RawEntry* e) {
  char names[65536];
  ssize_t n = ::flistxattr(fd, names, sizeof(names));
  if (n < 0) {
    if (errno == ENOTSUP) return Status::Ok();
    return Status::FromErrno(errno, "listxattr", rel);
  }
  for (ssize_t i = 0; i < n;) {
    std::string name(names + i);
    i += static_cast<ssize_t>(name.size()) + 1;
    std::string ovl = OverlayXattr(name);
    if (ovl.empty() && !KeepImageXattr(name)) continue;
    std::string value(4096, '\0');
    ssize_t len = ::fgetxattr(fd, name.c_str(), value.data(), value.size());
    if (len < 0 && errno == ERANGE) {
      ssize_t need = ::fgetxattr(fd, name.c_str(), nullptr, 0);
      if (need < 0) return Status::FromErrno(errno, "getxattr " + name, rel);
      value.resize(static_cast<size_t>(need));
      len = ::fgetxattr(fd, name.c_str(), value.data(), value.size());
    }
    if (len < 0) {
      if (errno == ENODATA) continue;
      return Status::FromErrno(errno, "getxattr " + name, rel);
    }
    value.resize(static_cast<size_t>(len));
    if (ovl.empty()) {
      e->xattrs[name] = value;
    } else if (ovl == "opaque") {
      e->opaque = value == "y" || value == "x";
    } else if (ovl == "whiteout") {
      e->whiteout = S_ISREG(e->st.st_mode);
    } else if (ovl == "metacopy") {
      e->metacopy = S_ISREG(e->st.st_mode);
    } else if (ovl == "redirect") {
      while (!value.empty() && value.back() == '\0') value.pop_back();
      if (!value.empty() && value[0] == '/') {
        e->redirect = value;
      } else if (!value.empty()) {
        e->redirect_name = value;
        std::string parent = Parent(rel);
        e->redirect = "/" + (parent.empty() ? value : parent + "/" + value);
      }
    }
  }
  return Status::Ok();
}

Result<OverlayStack> OverlayStack::Open(const std::vector<std::string>& layers) {
  OverlayStack s;
  for (const auto& p : layers) {
    int fd = ::open(p.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return Status::FromErrno(errno, "open layer", p);
    s.fds_.emplace_back(fd);
    s.paths_.push_back(p);
  }
  return s;
}

Result<std::optional<RawEntry>> OverlayStack::Lookup(size_t layer, const std::string& rel) const {
  RawEntry e;
  UniqueFd parent;
  int dirfd = fds_[layer].get();
  std::string name = Base(rel);
  if (rel.empty()) {
    name = ".";
  } else {
    std::string p = Parent(rel);
    if (!p.empty()) {
      auto r = OpenBeneath(dirfd, p, O_PATH | O_DIRECTORY);
      if (!r.ok()) {
        int err = r.status().err();
        // A missing or non-directory parent means the path does not exist here;
        // ELOOP (a symlinked parent) likewise hides nothing below it.
        if (err == ENOENT || err == ENOTDIR || err == ELOOP) return std::optional<RawEntry>();
        return r.status().WithContext(path(layer));
      }
      parent = std::move(*r);
      dirfd = parent.get();
    }
  }
  if (::fstatat(dirfd, name.c_str(), &e.st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT || errno == ENOTDIR) return std::optional<RawEntry>();
    return Status::FromErrno(errno, "stat", rel);
  }
  if (S_ISCHR(e.st.st_mode) && major(e.st.st_rdev) == 0 && minor(e.st.st_rdev) == 0) {
    e.whiteout = true;
    return std::optional<RawEntry>(std::move(e));
  }
  if (S_ISREG(e.st.st_mode) || S_ISDIR(e.st.st_mode)) {
    int flags = S_ISDIR(e.st.st_mode) ? O_RDONLY | O_DIRECTORY : O_RDONLY | O_NONBLOCK;
    int fd = ::openat(dirfd, name.c_str(), flags | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) return Status::FromErrno(errno, "open", rel);
    UniqueFd f(fd);
    RETURN_IF_ERROR(ReadEntryXattrs(f.get(), rel, &e));
  }
  return std::optional<RawEntry>(std::move(e));
}

Result<std::vector<std::string>> OverlayStack::ListDir(size_t layer, const std::string& rel) const {
  std::vector<std::string> names;
  auto r = OpenBeneath(fds_[layer].get(), rel, O_RDONLY | O_DIRECTORY);
  if (!r.ok()) {
    if (r.status().err() == ENOENT || r.status().err() == ENOTDIR) return names;
    return r.status().WithContext("list " + path(layer));
  }
  DIR* d = ::fdopendir(r->get());
  if (d == nullptr) return Status::FromErrno(errno, "fdopendir", rel);
  (void)r->release();  // owned by DIR now
  errno = 0;
  while (dirent* de = ::readdir(d)) {
    std::string_view n(de->d_name);
    if (n == "." || n == "..") continue;
    names.emplace_back(n);
  }
  int err = errno;
  ::closedir(d);
  if (err != 0) return Status::FromErrno(err, "readdir", rel);
  std::sort(names.begin(), names.end());
  return names;
}

// Where each layer from START down holds what PATH names as overlayfs looks
// it up: under the path of its parent directory in that layer, which follows
// every ancestor's redirect in the layers above (a directory renamed in a
// newer layer keeps its children under the old name below); an opaque
// directory hides the layers under it (those get "").
Result<std::vector<std::string>> OverlayStack::PathsBelow(size_t start,
                                                          const std::string& path) const {
  std::vector<std::string> dir(size());
  size_t bottom = size();
  std::string parent = Parent(path);
  for (size_t i = 0; i < parent.size();) {
    size_t j = parent.find('/', i);
    if (j == std::string::npos) j = parent.size();
    std::string comp = parent.substr(i, j - i);
    i = j + 1;
    std::optional<std::string> redirected;
    for (size_t l = start; l < bottom; ++l) {
      dir[l] = redirected ? *redirected : (dir[l].empty() ? comp : dir[l] + "/" + comp);
      ASSIGN_OR_RETURN(auto d, Lookup(l, dir[l]));
      if (!d || !S_ISDIR(d->st.st_mode)) continue;
      if (!d->redirect.empty()) {
        ASSIGN_OR_RETURN(std::string r, CleanRelPath(d->redirect));
        redirected = r;
      }
      if (d->opaque) bottom = l + 1;
    }
  }
  std::string base = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
  std::vector<std::string> out(size());
  for (size_t l = start; l < bottom; ++l) out[l] = dir[l].empty() ? base : dir[l] + "/" + base;
  return out;
}

Result<std::pair<size_t, std::string>> OverlayStack::FindData(size_t layer, const std::string& rel,
                                                              const RawEntry& entry) const {
  // A file redirect is an absolute path looked up from the root of the layers
  // below; without one the name is looked up below under its parent's path.
  std::vector<std::string> paths;
  if (!entry.redirect_name.empty()) {  // relative: under the parent's lower path
    std::string p = Parent(rel);
    ASSIGN_OR_RETURN(paths, PathsBelow(layer, p.empty() ? entry.redirect_name : p + "/" + entry.redirect_name));
  } else if (!entry.redirect.empty()) {
    ASSIGN_OR_RETURN(std::string r, CleanRelPath(entry.redirect));
    ASSIGN_OR_RETURN(paths, PathsBelow(layer + 1, r));
  } else {
    ASSIGN_OR_RETURN(paths, PathsBelow(layer, rel));
  }
  for (size_t l = layer + 1; l < size(); ++l) {
    if (paths[l].empty()) break;  // under an opaque directory
    ASSIGN_OR_RETURN(auto found, Lookup(l, paths[l]));
    if (!found) continue;
    if (found->whiteout || !S_ISREG(found->st.st_mode)) break;
    if (!found->metacopy) return std::make_pair(l, paths[l]);
    if (!found->redirect_name.empty()) {
      std::string p = Parent(paths[l]);
      ASSIGN_OR_RETURN(paths, PathsBelow(l, p.empty() ? found->redirect_name : p + "/" + found->redirect_name));
    } else if (!found->redirect.empty()) {
      ASSIGN_OR_RETURN(std::string r, CleanRelPath(found->redirect));
      ASSIGN_OR_RETURN(paths, PathsBelow(l + 1, r));
    }
  }
  return Status::Corrupt("metacopy file /" + rel + " in " + this->path(layer) +
                         ": no lower layer holds its data");
}

Result<UniqueFd> OverlayStack::OpenFile(size_t layer, const std::string& rel) const {
  auto r = OpenBeneath(fds_[layer].get(), rel, O_RDONLY | O_NOFOLLOW | O_NONBLOCK);
  if (!r.ok()) return r.status().WithContext(path(layer));
  return r;
}

}  // namespace ctrsnap::layers
