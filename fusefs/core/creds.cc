#include "fusefs/core/creds.h"

#include <sched.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace ctrsnap::fs {
namespace {
thread_local bool t_fs_unshared = false;
// The umask this thread's private fs_struct has now. It is left at the last
// caller's value (no restore): on request threads only creations under
// ScopedCallerCreds depend on it, and each sets it first. Saves two umask(2)
// per creation in the common case of one caller.
thread_local mode_t t_umask = 0;
}

ScopedCallerCreds::ScopedCallerCreds(const Caller& caller) {
  if (!t_fs_unshared) {
    t_fs_unshared = ::unshare(CLONE_FS) == 0;
    if (t_fs_unshared) {
      ::umask(0);
      t_umask = 0;
    }
  }
  const mode_t want = caller.umask & 0777;
  if (t_fs_unshared && t_umask != want) {
    ::umask(want);
    t_umask = want;
  }
  if (caller.uid != 0 || caller.gid != 0) {
    syscall(SYS_setfsgid, caller.gid);
    syscall(SYS_setfsuid, caller.uid);
    switched_ = true;
  }
}

ScopedCallerCreds::~ScopedCallerCreds() {
  if (switched_) {
    syscall(SYS_setfsuid, 0);
    syscall(SYS_setfsgid, 0);
  }
}

std::string_view MutationOpName(MutationOp op) {
  switch (op) {
    case MutationOp::kCreate: return "create";
    case MutationOp::kMkdir: return "mkdir";
    case MutationOp::kMknod: return "mknod";
    case MutationOp::kSymlink: return "symlink";
    case MutationOp::kLink: return "link";
    case MutationOp::kUnlink: return "unlink";
    case MutationOp::kRmdir: return "rmdir";
    case MutationOp::kRename: return "rename";
    case MutationOp::kWrite: return "write";
    case MutationOp::kTruncate: return "truncate";
    case MutationOp::kChmod: return "chmod";
    case MutationOp::kChown: return "chown";
    case MutationOp::kUtimes: return "utimes";
    case MutationOp::kSetxattr: return "setxattr";
    case MutationOp::kRemovexattr: return "removexattr";
    case MutationOp::kFallocate: return "fallocate";
    case MutationOp::kCopyFileRange: return "copy_file_range";
  }
  return "unknown";
}

}  // namespace ctrsnap::fs
