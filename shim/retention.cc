#include "shim/retention.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/file_util.h"
#include "common/state_layout.h"
#include "common/unique_fd.h"
#include "shim/container_meta.h"
#include "shim/fs_daemon.h"
#include "shim/state_dir.h"

namespace ctrsnap::shim {
namespace {

uint64_t UsageAt(int dirfd, dev_t dev, int depth) {
  if (depth > 256) return 0;
  DIR* d = ::fdopendir(dirfd);
  if (d == nullptr) {
    ::close(dirfd);
    return 0;
  }
  uint64_t total = 0;
  while (dirent* e = ::readdir(d)) {
    if (std::string_view(e->d_name) == "." || std::string_view(e->d_name) == "..") continue;
    struct stat st{};
    if (::fstatat(::dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    total += static_cast<uint64_t>(st.st_blocks) * 512;
    if (S_ISDIR(st.st_mode) && st.st_dev == dev) {
      int child = ::openat(::dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (child >= 0) total += UsageAt(child, dev, depth + 1);
    }
  }
  ::closedir(d);
  return total;
}

bool Exists(const std::string& path) {
  struct stat st{};
  return ::lstat(path.c_str(), &st) == 0;
}

std::string DirName(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

uint64_t DiskUsage(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return 0;
  struct stat st{};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    return 0;
  }
  return static_cast<uint64_t>(st.st_blocks) * 512 + UsageAt(fd, st.st_dev, 0);
}

Result<std::vector<StateEntry>> ListStates(const std::string& root) {
  std::vector<StateEntry> out;
  DIR* d = ::opendir(root.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return out;
    return Status::FromErrno(errno, "opendir", root);
  }
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name == "." || name == ".." || !ValidateContainerId(name).ok()) continue;
    names.push_back(name);
  }
  ::closedir(d);
  std::sort(names.begin(), names.end());
  for (const std::string& name : names) {
    StateEntry entry;
    entry.id = name;
    entry.dir = JoinPath(root, name);
    struct stat st{};
    if (::lstat(entry.dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) continue;
    auto meta = ContainerMeta::Load(entry.dir);
    if (!meta.ok() && !Exists(layout::FsMetaPath(entry.dir))) continue;  // not a state dir
    entry.running = StateLocked(entry.dir);
    if (auto exit = ExitRecord::Load(entry.dir); exit.ok()) {
      entry.exited = true;
      entry.exited_unix_ns = exit->exited_unix_ns;
    }
    if (meta.ok()) {
      entry.engine = meta->engine;
      if (meta->engine == "docker" && !meta->rootfs.empty()) {
        entry.engine_holds = Exists(DirName(meta->rootfs));
      }
    }
    entry.bytes = DiskUsage(entry.dir);
    out.push_back(std::move(entry));
  }
  return out;
}

std::vector<StateEntry> PlanPrune(const std::vector<StateEntry>& entries,
                                  const RetentionPolicy& policy) {
  std::vector<const StateEntry*> prunable;
  uint64_t total = 0;
  for (const auto& e : entries) {
    total += e.bytes;
    if (!e.running && e.exited && !e.engine_holds) prunable.push_back(&e);
  }
  // Newest first; ties broken by id for a stable plan.
  std::sort(prunable.begin(), prunable.end(), [](const StateEntry* a, const StateEntry* b) {
    if (a->exited_unix_ns != b->exited_unix_ns) return a->exited_unix_ns > b->exited_unix_ns;
    return a->id < b->id;
  });
  std::vector<StateEntry> plan;
  // Beyond keep_exited: pruned regardless of size.
  for (size_t i = policy.keep_exited; i < prunable.size(); ++i) {
    total -= prunable[i]->bytes;
    plan.push_back(*prunable[i]);
  }
  // Within keep_exited, oldest first, while over the byte budget.
  size_t kept = std::min<size_t>(policy.keep_exited, prunable.size());
  for (size_t i = kept; i-- > 0 && total > policy.max_bytes;) {
    total -= prunable[i]->bytes;
    plan.push_back(*prunable[i]);
  }
  std::sort(plan.begin(), plan.end(), [](const StateEntry& a, const StateEntry& b) {
    if (a.exited_unix_ns != b.exited_unix_ns) return a.exited_unix_ns < b.exited_unix_ns;
    return a.id < b.id;
  });
  return plan;
}

Status PruneState(const StateEntry& entry) {
  UniqueFd lock(::open(layout::LockPath(entry.dir).c_str(),
                       O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (!lock) return Status::FromErrno(errno, "open", layout::LockPath(entry.dir));
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    return Status(Code::kBusy, "state " + entry.id + " is in use (lock held); not pruned");
  }
  // Removing the tree removes the lock file too; holding its fd keeps others
  // out until the directory is gone.
  return RemoveTree(entry.dir).WithContext("prune " + entry.id);
}

}  // namespace ctrsnap::shim
