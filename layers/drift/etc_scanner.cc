// Configuration files under /etc: content digest (or symlink target), mode
// and owner of every regular file and symlink. Files the engine injects at
// run time (hosts, hostname, resolv.conf) and caches (ld.so.cache) are skipped.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "layers/drift/root_fs.h"
#include "layers/drift/scanners.h"

namespace ctrsnap::drift {
namespace {

constexpr int kMaxDepth = 16;
constexpr size_t kMaxFiles = 50000;
constexpr std::string_view kSkipped[] = {"hosts", "hostname", "resolv.conf", "ld.so.cache",
                                         "mtab"};

struct EtcWalker {
  Inventory& inv;
  size_t files = 0;
  bool truncated = false;

  void File(int dirfd, const std::string& path, std::string_view name, unsigned char type) {
    std::string n(name);
    struct stat st;
    if (::fstatat(dirfd, n.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return;
    Item it;
    it.ecosystem = kEcoEtc;
    it.name = path;
    char mode[8];
    std::snprintf(mode, sizeof(mode), "%04o", static_cast<unsigned>(st.st_mode & 07777));
    it.mode = mode;
    it.owner = std::to_string(st.st_uid) + ":" + std::to_string(st.st_gid);
    if (type == DT_LNK || S_ISLNK(st.st_mode)) {
      char target[4096];
      ssize_t len = ::readlinkat(dirfd, n.c_str(), target, sizeof(target));
      if (len < 0) return;
      it.digest = "link:" + std::string(target, static_cast<size_t>(len));
    } else if (S_ISREG(st.st_mode)) {
      auto fd = OpenFileNoFollow(dirfd, n);
      if (!fd.ok()) {
        it.digest = "unreadable";
      } else {
        auto d = Sha256OfFd(fd->get());
        it.digest = d.ok() ? *d : "unreadable";
      }
    } else {
      return;  // devices, fifos, sockets
    }
    inv.items.push_back(std::move(it));
  }

  void Dir(int dirfd, const std::string& path, int depth) {
    std::vector<std::pair<std::string, unsigned char>> entries;
    (void)ForEachEntry(dirfd, [&](std::string_view n, unsigned char type) {
      entries.emplace_back(std::string(n), type);
    });
    for (const auto& [n, type] : entries) {
      if (depth == 0) {
        bool skip = false;
        for (auto s : kSkipped) skip = skip || n == s;
        if (skip) continue;
      }
      if (++files > kMaxFiles) {
        truncated = true;
        return;
      }
      std::string child = path + "/" + n;
      if (type == DT_DIR) {
        if (depth + 1 >= kMaxDepth) continue;
        auto sub = OpenSubdir(dirfd, n);
        if (sub.ok()) Dir(sub->get(), child, depth + 1);
      } else {
        File(dirfd, child, n, type);
      }
    }
  }
};

}  // namespace

void ScanEtc(int rootfd, Inventory& inv) {
  // /etc itself must be a directory of the root, not a symlink out of it.
  UniqueFd etc(::openat(rootfd, "etc", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!etc) return;
  EtcWalker w{inv};
  w.Dir(etc.get(), "/etc", 0);
  if (w.truncated) inv.AddNote("etc: more than " + std::to_string(kMaxFiles) + " files; rest skipped");
}

}  // namespace ctrsnap::drift
