// Per-thread credentials for operations that create files.
//
// New files must be owned by the caller (fsuid/fsgid; setgid directories are
// honoured by the kernel) and get the caller's umask. setfsuid/setfsgid are
// per-thread system calls (used raw, not through glibc's process-wide setxid
// broadcast); the umask is per fs_struct, so each request thread unshares
// CLONE_FS once, and keeps the last caller's umask afterwards (only calls
// under a ScopedCallerCreds may depend on the thread's umask). REQUIRES: the process set SECBIT_NO_SETUID_FIXUP, so the
// thread keeps CAP_DAC_OVERRIDE while its fsuid is not 0 (the kernel FUSE
// layer already checked permissions with default_permissions).
#pragma once

#include <sys/types.h>

#include "fusefs/core/mutation.h"

namespace ctrsnap::fs {

class ScopedCallerCreds {
 public:
  explicit ScopedCallerCreds(const Caller& caller);
  ~ScopedCallerCreds();
  ScopedCallerCreds(const ScopedCallerCreds&) = delete;
  ScopedCallerCreds& operator=(const ScopedCallerCreds&) = delete;

 private:
  bool switched_ = false;
};

}  // namespace ctrsnap::fs
