#include "tests/soak/tree_check.h"

#include <dirent.h>
#include <fcntl.h>
#include <linux/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <tuple>

#include "common/file_util.h"
#include "common/process.h"

namespace ctrsnap::soak {
namespace {

constexpr char kWhiteoutPrefix[] = ".wh.";
constexpr char kOpaqueMarker[] = ".wh..wh..opq";

std::string Normalize(std::string name) {
  while (name.rfind("./", 0) == 0) name.erase(0, 2);
  while (!name.empty() && name.back() == '/') name.pop_back();
  return name == "." ? "" : name;
}

void SplitDirBase(const std::string& path, std::string* dir, std::string* base) {
  size_t slash = path.rfind('/');
  *dir = slash == std::string::npos ? "" : path.substr(0, slash);
  *base = slash == std::string::npos ? path : path.substr(slash + 1);
}

std::string EmptyDir(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return "";  // nothing below to hide
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  for (const auto& n : names) {
    Status st = RemoveTree(dir + "/" + n);
    if (!st.ok()) return st.ToString();
  }
  return "";
}

// Which names are one file. Not st_ino alone: kernel overlayfs gives a copied-up
// file the st_ino of its lower origin, so after link(2) copied up one name of a
// lower hard link, the new upper inode and the old lower one share an st_ino in
// the overlay view while being two files (as the layers say). Their ctimes differ
// (copy-up and link set it); names of one inode share it.
using InodeKey = std::tuple<dev_t, ino_t, time_t, long>;

void Walk(const std::string& root, const std::string& rel, TreeListing* out,
          std::map<InodeKey, std::vector<std::string>>* inodes) {
  std::string dir = rel.empty() ? root : root + "/" + rel;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    out->entries["/" + rel + "/?"] = "opendir failed";
    return;
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") names.push_back(n);
  }
  ::closedir(d);
  for (const auto& n : names) {
    std::string r = rel.empty() ? n : rel + "/" + n;
    std::string p = root + "/" + r;
    struct stat st {};
    if (::lstat(p.c_str(), &st) != 0) {
      out->entries["/" + r] = "lstat failed";
      continue;
    }
    std::ostringstream s;
    s << std::oct << st.st_mode << std::dec << " " << st.st_uid << ":" << st.st_gid;
    if (S_ISREG(st.st_mode)) {
      auto data = ReadFileToString(p);
      s << " " << st.st_size << " ";
      if (data.ok()) {
        s << std::hex << Fnv64(*data) << std::dec;
      } else {
        s << "unreadable";
      }
      if (st.st_nlink > 1) {
        (*inodes)[{st.st_dev, st.st_ino, st.st_ctim.tv_sec, st.st_ctim.tv_nsec}].push_back("/" + r);
      }
    } else if (S_ISLNK(st.st_mode)) {
      char t[4096];
      ssize_t len = ::readlink(p.c_str(), t, sizeof(t));
      s << " -> " << std::string(t, len > 0 ? static_cast<size_t>(len) : 0);
    } else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
      s << " " << major(st.st_rdev) << "," << minor(st.st_rdev);
    }
    out->entries["/" + r] = s.str();
    if (S_ISDIR(st.st_mode)) Walk(root, r, out, inodes);
  }
}

}  // namespace

std::string ApplyLayer(const std::string& blob, const std::string& root) {
  auto names = RunChecked({"tar", "-tf", blob, "--quoting-style=literal"});
  if (!names.ok()) return names.status().ToString();
  std::istringstream in(*names);
  std::string line;
  std::vector<std::string> opaque, whiteouts;
  while (std::getline(in, line)) {
    std::string name = Normalize(line), dir, base;
    SplitDirBase(name, &dir, &base);
    if (base == kOpaqueMarker) {
      opaque.push_back(dir);
    } else if (base.rfind(kWhiteoutPrefix, 0) == 0) {
      whiteouts.push_back(dir.empty() ? base.substr(4) : dir + "/" + base.substr(4));
    }
  }
  // Whiteouts hide what lower layers hold: remove before extracting this one.
  for (const auto& d : opaque) {
    std::string err = EmptyDir(d.empty() ? root : root + "/" + d);
    if (!err.empty()) return "opaque " + d + ": " + err;
  }
  for (const auto& w : whiteouts) {
    Status st = RemoveTree(root + "/" + w);
    if (!st.ok()) return "whiteout " + w + ": " + st.ToString();
  }
  auto x = RunChecked({"tar", "-xf", blob, "-C", root, "--numeric-owner", "--same-owner",
                       "--same-permissions", "--xattrs", "--xattrs-include=*",
                       "--exclude=.wh.*"});
  if (!x.ok()) return x.status().ToString();
  return "";
}

TreeListing ListTree(const std::string& root) {
  TreeListing out;
  std::map<InodeKey, std::vector<std::string>> inodes;
  Walk(root, "", &out, &inodes);
  for (auto& [ino, paths] : inodes) {
    if (paths.size() < 2) continue;  // other names may be hidden by whiteouts
    std::sort(paths.begin(), paths.end());
    out.link_groups.insert(paths);
  }
  return out;
}

void ErasePrefix(TreeListing* l, const std::string& path) {
  std::erase_if(l->entries, [&](const auto& kv) {
    return kv.first == path || kv.first.rfind(path + "/", 0) == 0;
  });
  std::set<std::vector<std::string>> groups;
  for (auto g : l->link_groups) {
    std::erase_if(g, [&](const std::string& p) { return p == path || p.rfind(path + "/", 0) == 0; });
    if (g.size() >= 2) groups.insert(g);
  }
  l->link_groups = std::move(groups);
}

std::vector<std::string> DiffListings(const TreeListing& want, const TreeListing& got,
                                      size_t max) {
  std::vector<std::string> out;
  auto add = [&](std::string s) {
    if (out.size() < max) out.push_back(std::move(s));
  };
  for (const auto& [p, v] : want.entries) {
    auto it = got.entries.find(p);
    if (it == got.entries.end()) {
      add("missing in image: " + p + " (" + v + ")");
    } else if (it->second != v) {
      add("differs: " + p + " overlay [" + v + "] image [" + it->second + "]");
    }
  }
  for (const auto& [p, v] : got.entries) {
    if (!want.entries.count(p)) add("only in image: " + p + " (" + v + ")");
  }
  auto join = [](const std::vector<std::string>& g) {
    std::string s;
    for (const auto& p : g) s += (s.empty() ? "" : " = ") + p;
    return s;
  };
  for (const auto& g : want.link_groups) {
    if (!got.link_groups.count(g)) add("hard links not in image: " + join(g));
  }
  for (const auto& g : got.link_groups) {
    if (!want.link_groups.count(g)) add("hard links only in image: " + join(g));
  }
  return out;
}

uint64_t Fnv64(const std::string& data) {
  uint64_t h = 14695981039346656037ULL;
  for (unsigned char c : data) h = (h ^ c) * 1099511628211ULL;
  return h;
}

std::vector<std::string> CheckManifest(const std::string& manifest, const std::string& work_root,
                                       size_t* checked) {
  std::vector<std::string> bad;
  *checked = 0;
  std::istringstream in(manifest);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream l(line);
    std::string kind;
    l >> kind;
    if (kind == "f") {
      std::string hash, path;
      size_t size = 0;
      unsigned mode = 0, uid = 0;
      l >> hash >> size >> std::oct >> mode >> std::dec >> uid >> path;
      std::string p = work_root + path;
      struct stat st {};
      auto data = ReadFileToString(p);
      char want[17];
      if (::lstat(p.c_str(), &st) != 0 || !S_ISREG(st.st_mode) || !data.ok()) {
        bad.push_back(path + ": missing or not a file");
        continue;
      }
      std::snprintf(want, sizeof(want), "%016llx", static_cast<unsigned long long>(Fnv64(*data)));
      if (want != hash || data->size() != size || (st.st_mode & 07777) != mode || st.st_uid != uid) {
        std::ostringstream s;
        s << path << ": image has " << want << " " << data->size() << " " << std::oct
          << (st.st_mode & 07777) << std::dec << " " << st.st_uid << ", container saw " << hash
          << " " << size << " " << std::oct << mode << std::dec << " " << uid;
        bad.push_back(s.str());
      }
    } else if (kind == "l") {
      std::string target, path;
      l >> target >> path;
      char t[4096];
      ssize_t n = ::readlink((work_root + path).c_str(), t, sizeof(t));
      if (n < 0 || std::string(t, static_cast<size_t>(n)) != target) {
        bad.push_back(path + ": link target differs from " + target);
      }
    } else {
      bad.push_back("unreadable manifest line: " + line);
      continue;
    }
    ++*checked;
  }
  return bad;
}

std::string MountOverlayView(const std::vector<std::string>& lowers, const std::string& target) {
  // The new mount API: "lowerdir+" takes one layer per call, so the stack is
  // not limited by the one-page size of mount(2)'s option string.
  int fsfd = static_cast<int>(syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC));
  if (fsfd < 0) return std::string("fsopen overlay: ") + std::strerror(errno);
  auto set = [&](const char* key, const std::string& value) {
    return syscall(SYS_fsconfig, fsfd, FSCONFIG_SET_STRING, key, value.c_str(), 0) == 0;
  };
  std::string err;
  for (const auto& l : lowers) {
    if (!set("lowerdir+", l)) err = "lowerdir+ " + l;
  }
  if (err.empty() && !set("redirect_dir", "follow")) err = "redirect_dir=follow";
  if (err.empty() && !set("metacopy", "on")) err = "metacopy=on";
  if (err.empty() && syscall(SYS_fsconfig, fsfd, FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) {
    err = "create";
  }
  int mfd = -1;
  if (err.empty()) {
    mfd = static_cast<int>(syscall(SYS_fsmount, fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_RDONLY));
    if (mfd < 0) err = "fsmount";
  }
  if (err.empty() && syscall(SYS_move_mount, mfd, "", AT_FDCWD, target.c_str(),
                             MOVE_MOUNT_F_EMPTY_PATH) != 0) {
    err = "move_mount to " + target;
  }
  if (!err.empty()) err += std::string(": ") + std::strerror(errno);
  if (mfd >= 0) ::close(mfd);
  ::close(fsfd);
  return err;
}

int64_t RssKiB(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stoll(line.substr(6));
  }
  return -1;
}

}  // namespace ctrsnap::soak
