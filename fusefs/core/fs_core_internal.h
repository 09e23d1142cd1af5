// Private pieces shared by the fs_core*.cc files.
#pragma once

#include <dirent.h>
#include <pthread.h>

#include <string>

#include "fusefs/core/fs_core.h"

namespace ctrsnap::fs {

struct FsCore::Handle {
  Node* node = nullptr;
  int flags = 0;  // backing open(2) flags used to reopen in a newer epoch
  bool is_dir = false;
  std::mutex mu;
  FdRef fd;            // (mu)
  uint64_t epoch = 0;  // (mu)
  bool pinned = false;  // (mu) orphan of an old epoch: keeps its old fd
  DIR* dir = nullptr;   // (mu) directories only
  off_t dir_offset = 0;  // (mu)
};

// Holds the epoch lock shared for one operation.
class FsCore::EpochReadLock {
 public:
  explicit EpochReadLock(pthread_rwlock_t* l) : l_(l) { pthread_rwlock_rdlock(l_); }
  ~EpochReadLock() { pthread_rwlock_unlock(l_); }
  EpochReadLock(const EpochReadLock&) = delete;
  EpochReadLock& operator=(const EpochReadLock&) = delete;

 private:
  pthread_rwlock_t* l_;
};

inline std::string ProcFd(int fd) { return "/proc/self/fd/" + std::to_string(fd); }

inline Status Errno(const char* op, std::string_view what = {}) {
  return Status::FromErrno(errno, op, what);
}

}  // namespace ctrsnap::fs
