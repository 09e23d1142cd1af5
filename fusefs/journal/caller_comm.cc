#include "fusefs/journal/caller_comm.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "common/unique_fd.h"

namespace ctrsnap {

std::string ReadProcComm(int32_t pid) {
  if (pid <= 0) return {};
  char path[32];
  std::snprintf(path, sizeof(path), "/proc/%d/comm", static_cast<int>(pid));
  UniqueFd fd(::open(path, O_RDONLY | O_CLOEXEC));
  if (!fd) return {};
  char buf[64];
  ssize_t n;
  do {
    n = ::read(fd.get(), buf, sizeof(buf));
  } while (n < 0 && errno == EINTR);
  if (n <= 0) return {};
  std::string comm(buf, static_cast<size_t>(n));
  while (!comm.empty() && (comm.back() == '\n' || comm.back() == '\0')) comm.pop_back();
  return comm;
}

std::string CallerCommCache::Lookup(int32_t pid) {
  if (pid <= 0) return {};
  auto now = std::chrono::steady_clock::now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = items_.find(pid);
    if (it != items_.end() && it->second.expires > now) return it->second.comm;
  }
  // procfs read outside the lock: concurrent misses for one pid read twice,
  // which is harmless.
  std::string comm = ReadProcComm(pid);
  std::lock_guard<std::mutex> lock(mu_);
  if (items_.size() >= max_entries_) items_.clear();
  items_[pid] = Item{comm, now + ttl_};
  return comm;
}

}  // namespace ctrsnap
