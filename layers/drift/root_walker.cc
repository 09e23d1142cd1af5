// One bounded, no-follow walk of a root filesystem that finds the places
// package ecosystems keep their records: site-packages/dist-packages,
// conda-meta, node_modules and CUDA-family libraries. Pseudo filesystems,
// caches, documentation and the package managers' own trees are not entered.
#include <dirent.h>
#include <fcntl.h>

#include <string>
#include <vector>

#include "layers/drift/root_fs.h"
#include "layers/drift/scanners.h"

namespace ctrsnap::drift {
namespace {

// Relative paths never entered. /etc is scanned by ScanEtc.
constexpr std::string_view kSkipPaths[] = {
    "proc",          "sys",           "dev",          "run",          "tmp",
    "var/tmp",       "var/cache",     "var/log",      "var/lib/docker", "var/lib/containerd",
    "var/lib/ctrsnap", "var/lib/dpkg", "var/lib/apt", "var/lib/rpm",  "usr/share",
    "usr/include",   "usr/src",       "boot",         "lost+found",   "mnt",
    "media",         "snap",          "etc",          "usr/lib/modules", "lib/modules",
    "usr/lib/firmware", "lib/firmware"};
// Directory names never entered anywhere.
constexpr std::string_view kSkipNames[] = {".git", "__pycache__", ".cache", ".npm", ".hg"};

bool Skipped(const std::string& rel, std::string_view name) {
  for (auto n : kSkipNames) {
    if (name == n) return true;
  }
  for (auto p : kSkipPaths) {
    if (rel == p) return true;
  }
  return false;
}

struct Frame {
  UniqueFd fd;
  std::string rel;  // "" for the root
  int depth;
};

}  // namespace

WalkResult WalkRoot(int rootfd, const WalkOptions& options) {
  WalkResult out;
  std::vector<Frame> stack;
  int dup = ::fcntl(rootfd, F_DUPFD_CLOEXEC, 0);
  if (dup < 0) return out;
  // An O_PATH root fd cannot be listed: reopen it as a directory.
  auto root = OpenSubdir(dup, ".");
  ::close(dup);
  if (!root.ok()) return out;
  stack.push_back({std::move(*root), "", 0});
  while (!stack.empty()) {
    Frame f = std::move(stack.back());
    stack.pop_back();
    if (++out.dirs_visited > options.max_dirs) {
      out.truncated = true;
      break;
    }
    std::vector<std::string> subdirs;
    (void)ForEachEntry(f.fd.get(), [&](std::string_view n, unsigned char type) {
      std::string rel = f.rel.empty() ? std::string(n) : f.rel + "/" + std::string(n);
      if (type == DT_DIR) {
        if (n == "site-packages" || n == "dist-packages") {
          out.site_dirs.push_back(std::move(rel));
        } else if (n == "conda-meta") {
          out.conda_meta_dirs.push_back(std::move(rel));
        } else if (n == "node_modules") {
          out.node_modules_dirs.push_back(std::move(rel));
        } else if (f.depth + 1 < options.max_depth && !Skipped(rel, n)) {
          subdirs.emplace_back(n);
        }
      } else if ((type == DT_REG) && n.starts_with("lib") &&
                 n.find(".so.") != std::string_view::npos) {
        std::string name, version;
        if (MatchCudaLibrary(n, &name, &version)) out.cuda_files.push_back(std::move(rel));
      }
    });
    for (const auto& n : subdirs) {
      auto sub = OpenSubdir(f.fd.get(), n);
      if (!sub.ok()) continue;
      stack.push_back({std::move(*sub), f.rel.empty() ? n : f.rel + "/" + n, f.depth + 1});
    }
  }
  return out;
}

}  // namespace ctrsnap::drift
