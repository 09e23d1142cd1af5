#include "fusefs/fuse/sandbox.h"

#include <linux/securebits.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <iterator>

// AddressSanitizer builds (CI's ASan tree) check for leaks at exit: a clone of
// the daemon reads /proc/self/task, ptrace-attaches to every thread and is
// waited for (getdents, ptrace, wait4). Only those builds allow it (AllowLeakCheckAtExit); releases never.
#if defined(__SANITIZE_ADDRESS__)
#define CTRSNAP_LEAK_CHECK_AT_EXIT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CTRSNAP_LEAK_CHECK_AT_EXIT 1
#endif
#endif

namespace ctrsnap::fs {
namespace {

constexpr cap_value_t kKeep[] = {CAP_CHOWN,  CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH,
                                 CAP_FOWNER, CAP_FSETID,       CAP_MKNOD,
                                 CAP_SETUID, CAP_SETGID,       CAP_SYS_ADMIN,
                                 CAP_SETFCAP};

bool Kept(cap_value_t c) {
  for (cap_value_t k : kKeep) {
    if (k == c) return true;
  }
  return false;
}

// Every system call the daemon makes after mounting: file operations on the
// overlay, libfuse's request loop and threads, the journal, the control
// socket, mounting the next epoch at a seal, and unmounting at exit.
constexpr const char* kAllowed[] = {
    "read", "write", "pread64", "pwrite64", "readv", "writev", "preadv", "pwritev", "preadv2",
    "pwritev2", "openat", "openat2", "open", "close", "close_range", "fstat", "newfstatat",
    "statx", "lstat", "stat", "lseek", "mmap", "munmap", "mprotect", "mremap", "madvise", "brk",
    "futex", "clone", "clone3", "exit", "exit_group", "rt_sigaction", "rt_sigprocmask",
    "rt_sigreturn", "rt_sigtimedwait", "sigaltstack", "restart_syscall", "getdents64", "mkdirat",
    "mknodat", "unlinkat", "renameat2", "renameat", "rename", "linkat", "symlinkat", "readlinkat",
    "readlink", "fchmod", "fchmodat", "fchmodat2", "fchownat", "fchown", "utimensat", "ftruncate",
    "truncate", "fallocate", "fsync", "fdatasync", "syncfs", "sync_file_range", "fgetxattr",
    "fsetxattr", "flistxattr", "fremovexattr", "getxattr", "setxattr", "listxattr",
    "removexattr", "lgetxattr", "lsetxattr", "llistxattr", "lremovexattr", "fstatfs", "statfs",
    "flock", "fcntl", "copy_file_range", "splice", "tee", "vmsplice", "pipe2", "sendfile",
    "fadvise64", "readahead", "ioctl", "setfsuid", "setfsgid", "umask", "getpid", "gettid",
    "getppid", "getuid", "geteuid", "getgid", "getegid", "getgroups", "clock_gettime",
    "clock_getres", "gettimeofday", "time", "nanosleep", "clock_nanosleep", "poll", "ppoll",
    "select", "pselect6", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "eventfd2",
    "accept", "accept4", "sendto", "recvfrom", "sendmsg", "recvmsg", "getsockopt", "setsockopt",
    "shutdown", "getsockname", "getpeername", "fsopen", "fsconfig", "fsmount", "umount2", "dup",
    "dup2", "dup3", "prctl", "getrandom", "sched_yield", "sched_getaffinity", "set_robust_list",
    "get_robust_list", "rseq", "sysinfo", "uname", "getcwd", "chdir", "fchdir", "access",
    "faccessat", "faccessat2", "prlimit64", "getrlimit", "tgkill", "tkill", "membarrier",
    "mkdir", "unlink", "rmdir", "chmod", "chown", "lchown", "utime", "utimes", "futimesat",
    "creat", "link", "symlink", "mknod", "capget", "getpriority", "getresuid", "getresgid",
    "set_tid_address", "mincore", "memfd_create"};

// SCMP_A0(SCMP_CMP_EQ, v) without the macro's partial initializer.
scmp_arg_cmp ArgEq0(scmp_datum_t v) {
  scmp_arg_cmp c;
  c.arg = 0;
  c.op = SCMP_CMP_EQ;
  c.datum_a = v;
  c.datum_b = 0;
  return c;
}

}  // namespace

Status KeepCapsAcrossFsuid() {
  if (::prctl(PR_SET_SECUREBITS, SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED, 0, 0,
              0) != 0) {
    return Status::FromErrno(errno, "prctl(PR_SET_SECUREBITS)");
  }
  return Status::Ok();
}

Status DropCapabilities() {
  for (cap_value_t c = 0; c <= CAP_LAST_CAP; ++c) {
    if (!Kept(c) && cap_drop_bound(c) != 0 && errno != EINVAL) {
      return Status::FromErrno(errno, "cap_drop_bound");
    }
  }
  if (cap_reset_ambient() != 0 && errno != EINVAL) {
    return Status::FromErrno(errno, "cap_reset_ambient");
  }
  cap_t caps = cap_init();  // all clear
  if (!caps) return Status::FromErrno(errno, "cap_init");
  int n = static_cast<int>(std::size(kKeep));
  int rc = cap_set_flag(caps, CAP_EFFECTIVE, n, kKeep, CAP_SET) |
           cap_set_flag(caps, CAP_PERMITTED, n, kKeep, CAP_SET);
  if (rc == 0) rc = cap_set_proc(caps);
  int err = errno;
  cap_free(caps);
  if (rc != 0) return Status::FromErrno(err, "cap_set_proc");
  return Status::Ok();
}

Status InstallSeccompFilter() {
  scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ERRNO(EPERM));
  if (!ctx) return Status::Internal("seccomp_init failed");
  int rc = 0;
  for (const char* name : kAllowed) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture
    rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
    if (rc != 0) break;
  }
#ifdef CTRSNAP_LEAK_CHECK_AT_EXIT
  for (const char* name : {"ptrace", "wait4", "getdents"}) {
    if (rc == 0) rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, seccomp_syscall_resolve_name(name), 0);
  }
#endif
  // New sockets: unix only (no network). unshare: only CLONE_FS (creds.h).
  if (rc == 0) {
    rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(socket), 1, ArgEq0(AF_UNIX));
  }
  if (rc == 0) {
    rc = seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(unshare), 1, ArgEq0(CLONE_FS));
  }
  if (rc == 0) rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
  if (rc == 0) rc = seccomp_load(ctx);
  seccomp_release(ctx);
  if (rc != 0) return Status::FromErrno(-rc, "seccomp");
  return Status::Ok();
}

void AllowLeakCheckAtExit() {
#ifdef CTRSNAP_LEAK_CHECK_AT_EXIT
  // Any fsuid change made the process non-dumpable, which hides /proc/self/task
  // from the leak checker's clone and forbids its ptrace.
  (void)::prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
#endif
}

}  // namespace ctrsnap::fs
