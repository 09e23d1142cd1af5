#include "fusefs/journal/change_set.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <map>
#include <set>
#include <unordered_map>

#include "common/file_util.h"
#include "common/unique_fd.h"

namespace ctrsnap {
namespace {

constexpr const char kOpaqueXattr[] = "trusted.overlay.opaque";
constexpr const char kRedirectXattr[] = "trusted.overlay.redirect";
constexpr const char kMetacopyXattr[] = "trusted.overlay.metacopy";

struct UpperEntry {
  std::string path;  // "/a/b"
  struct stat st {};
  bool whiteout = false;
  bool opaque = false;
  bool metacopy = false;
  std::string redirect;
};

bool IsWhiteout(const struct stat& st) {
  return S_ISCHR(st.st_mode) && major(st.st_rdev) == 0 && minor(st.st_rdev) == 0;
}

// The value of xattr NAME on FD; nullopt when absent or unreadable.
std::optional<std::string> GetXattr(int fd, const char* name) {
  char buf[4096];
  ssize_t n = ::fgetxattr(fd, name, buf, sizeof(buf));
  if (n < 0) return std::nullopt;
  return std::string(buf, static_cast<size_t>(n));
}

bool IsOpaqueDir(int dirfd) {
  std::optional<std::string> v = GetXattr(dirfd, kOpaqueXattr);
  return v && *v == "y";
}

char TypeChar(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return 'f';
    case S_IFDIR: return 'd';
    case S_IFLNK: return 'l';
    case S_IFCHR: return 'c';
    case S_IFBLK: return 'b';
    case S_IFIFO: return 'p';
    case S_IFSOCK: return 's';
    default: return '?';
  }
}

// Reads every entry of the upper dir ROOT, parents before their children.
// Directories are opened beneath ROOT without following any symlink.
Status WalkUpper(const std::string& root, std::vector<UpperEntry>& out) {
  UniqueFd root_fd(::open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root_fd) return Status::FromErrno(errno, "open upper", root);
  std::vector<std::string> dirs = {""};  // relative paths still to read
  while (!dirs.empty()) {
    std::string rel = std::move(dirs.back());
    dirs.pop_back();
    UniqueFd dfd;
    if (rel.empty()) {
      dfd.reset(::dup(root_fd.get()));
      if (!dfd) return Status::FromErrno(errno, "dup");
    } else {
      ASSIGN_OR_RETURN(dfd, OpenBeneath(root_fd.get(), rel, O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
    }
    int iter_fd = ::dup(dfd.get());
    if (iter_fd < 0) return Status::FromErrno(errno, "dup");
    DIR* d = ::fdopendir(iter_fd);
    if (d == nullptr) {
      int err = errno;
      ::close(iter_fd);
      return Status::FromErrno(err, "opendir", root + "/" + rel);
    }
    std::vector<std::string> names;
    errno = 0;
    while (dirent* de = ::readdir(d)) {
      std::string_view n(de->d_name);
      if (n != "." && n != "..") names.emplace_back(n);
    }
    ::closedir(d);
    std::sort(names.begin(), names.end());
    std::vector<std::string> subdirs;
    for (const auto& name : names) {
      UpperEntry e;
      e.path = "/" + (rel.empty() ? name : rel + "/" + name);
      if (::fstatat(dfd.get(), name.c_str(), &e.st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT) continue;  // removed while we read (live generation)
        return Status::FromErrno(errno, "stat", root + e.path);
      }
      e.whiteout = IsWhiteout(e.st);
      if (S_ISDIR(e.st.st_mode)) {
        UniqueFd fd(::openat(dfd.get(), name.c_str(),
                             O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (fd) {
          e.opaque = IsOpaqueDir(fd.get());
          e.redirect = GetXattr(fd.get(), kRedirectXattr).value_or("");
        }
        subdirs.push_back(e.path.substr(1));
      } else if (S_ISREG(e.st.st_mode)) {
        UniqueFd fd(::openat(dfd.get(), name.c_str(),
                             O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
        if (fd) e.metacopy = GetXattr(fd.get(), kMetacopyXattr).has_value();
      }
      out.push_back(std::move(e));
    }
    // Reverse, so the stack pops them in name order.
    dirs.insert(dirs.end(), subdirs.rbegin(), subdirs.rend());
  }
  return Status::Ok();
}

std::vector<std::string> SplitPath(const std::string& path) {
  std::vector<std::string> parts;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    if (j > i) parts.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return parts;
}

void EraseUnder(std::map<std::string, std::pair<uint64_t, UpperEntry>>& m,
                const std::string& dir) {
  const std::string prefix = dir + "/";
  for (auto it = m.lower_bound(prefix); it != m.end() && it->first.starts_with(prefix);) {
    it = m.erase(it);
  }
}

bool IsUnder(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() && path.starts_with(dir) && path[dir.size()] == '/';
}

}  // namespace

char ChangeKindMarker(ChangeKind kind) {
  switch (kind) {
    case ChangeKind::kAdded: return 'A';
    case ChangeKind::kChanged: return 'C';
    case ChangeKind::kDeleted: return 'D';
  }
  return '?';
}

Result<bool> ExistsInLayers(const std::vector<std::string>& layers, const std::string& path) {
  const std::vector<std::string> parts = SplitPath(path);
  if (parts.empty()) return true;  // the root always exists
  for (const auto& layer : layers) {
    UniqueFd fd(::open(layer.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!fd) {
      if (errno == ENOENT) continue;
      return Status::FromErrno(errno, "open layer", layer);
    }
    bool opaque_above = false;  // an ancestor in this layer hides the layers below
    bool next_layer = false;
    for (size_t i = 0; i < parts.size(); ++i) {
      struct stat st {};
      if (::fstatat(fd.get(), parts[i].c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno != ENOENT) return Status::FromErrno(errno, "stat", layer + path);
        next_layer = true;
        break;
      }
      if (IsWhiteout(st)) return false;
      if (i + 1 == parts.size()) return true;
      if (!S_ISDIR(st.st_mode)) return false;  // a non-directory hides what is below it
      UniqueFd sub(::openat(fd.get(), parts[i].c_str(),
                            O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub) return Status::FromErrno(errno, "open", layer + path);
      if (IsOpaqueDir(sub.get())) opaque_above = true;
      fd = std::move(sub);
    }
    if (next_layer && opaque_above) return false;
  }
  return false;
}

Result<std::vector<Change>> ComputeChangeSet(const DiffInput& input) {
  // path -> (generation, entry): the newest state of each path in the range.
  std::map<std::string, std::pair<uint64_t, UpperEntry>> merged;
  for (const auto& [gen, upper] : input.uppers) {
    std::vector<UpperEntry> entries;
    RETURN_IF_ERROR(WalkUpper(upper, entries).WithContext("generation " + std::to_string(gen)));
    for (auto& e : entries) {
      // Whiteouts, non-directories and opaque directories hide whatever
      // older generations of the range had below them.
      if (e.whiteout || !S_ISDIR(e.st.st_mode) || e.opaque) EraseUnder(merged, e.path);
      std::string key = e.path;  // (the right side of = is evaluated first)
      merged[key] = {gen, std::move(e)};
    }
  }

  std::vector<Change> out;
  std::vector<std::string> added_dirs;  // stack of added directories (sorted walk)
  for (auto& [path, ge] : merged) {
    auto& [gen, e] = ge;
    while (!added_dirs.empty() && !IsUnder(path, added_dirs.back())) added_dirs.pop_back();
    bool exists_below;
    if (!added_dirs.empty()) {
      exists_below = false;  // under a directory that is new itself
    } else {
      ASSIGN_OR_RETURN(exists_below, ExistsInLayers(input.below, path));
    }
    Change c;
    c.path = path;
    c.generation = gen;
    if (e.whiteout) {
      if (!exists_below) continue;  // created and deleted within the range
      c.kind = ChangeKind::kDeleted;
      c.type = '-';
    } else {
      c.kind = exists_below ? ChangeKind::kChanged : ChangeKind::kAdded;
      c.type = TypeChar(e.st.st_mode);
      c.mode = e.st.st_mode;
      c.size = S_ISREG(e.st.st_mode) ? static_cast<uint64_t>(e.st.st_size) : 0;
      c.opaque = e.opaque;
      c.metacopy = e.metacopy;
      c.redirect = e.redirect;
      if (c.kind == ChangeKind::kAdded && S_ISDIR(e.st.st_mode)) added_dirs.push_back(path);
    }
    out.push_back(std::move(c));
  }
  return out;
}

Result<UpperUsage> MeasureUpper(const std::string& upper_dir) {
  std::vector<UpperEntry> entries;
  RETURN_IF_ERROR(WalkUpper(upper_dir, entries));
  UpperUsage u;
  for (const auto& e : entries) {
    if (S_ISDIR(e.st.st_mode)) {
      ++u.dirs;
      continue;
    }
    ++u.files;
    if (S_ISREG(e.st.st_mode)) u.bytes += static_cast<uint64_t>(e.st.st_size);
  }
  return u;
}

void AttributeWriters(std::vector<Change>& changes, const std::vector<JournalEntry>& entries) {
  std::unordered_map<std::string, size_t> index;
  for (size_t i = 0; i < changes.size(); ++i) index.emplace(changes[i].path, i);
  auto credit = [&](const std::string& path, const JournalEntry& e) {
    auto it = index.find(path);
    if (it == index.end()) return;
    Change& c = changes[it->second];
    c.last_change_ns = std::max(c.last_change_ns, e.time_ns);
    auto w = std::find_if(c.writers.begin(), c.writers.end(), [&](const ChangeWriter& x) {
      return x.pid == e.pid && x.comm == e.comm && x.uid == e.uid;
    });
    if (w == c.writers.end()) {
      c.writers.push_back(ChangeWriter{e.pid, e.comm, e.uid, 0, 0});
      w = c.writers.end() - 1;
    }
    ++w->ops;
    if (e.op == JournalOp::kWrite || e.op == JournalOp::kCopyFileRange) w->bytes_written += e.length;
  };
  for (const auto& e : entries) {
    credit(e.path, e);
    if ((e.op == JournalOp::kRename || e.op == JournalOp::kLink) && e.path2 != e.path) {
      credit(e.path2, e);
    }
  }
  for (auto& c : changes) {
    std::stable_sort(c.writers.begin(), c.writers.end(),
                     [](const ChangeWriter& a, const ChangeWriter& b) { return a.ops > b.ops; });
  }
}

}  // namespace ctrsnap
