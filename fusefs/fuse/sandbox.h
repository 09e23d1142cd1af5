// Confinement of the running daemon: after mounting, ctrsnap-fs keeps only the
// capabilities its file operations and seals need, and installs a seccomp
// allowlist (no execve, no sockets other than AF_UNIX, no ptrace, ...).
#pragma once

#include "common/status.h"

namespace ctrsnap::fs {

// Sets SECBIT_NO_SETUID_FIXUP (locked) so that request threads keep their
// file capabilities while their fsuid is the caller's (see core/creds.h).
Status KeepCapsAcrossFsuid();

// Drops every capability except CHOWN, DAC_OVERRIDE, DAC_READ_SEARCH, FOWNER,
// FSETID, MKNOD, SETUID, SETGID (per-thread fsuid/fsgid), SETFCAP
// (security.capability xattrs) and SYS_ADMIN
// (mounting the next epoch at a seal; trusted.* xattrs), from the effective,
// permitted, inheritable, ambient and bounding sets.
Status DropCapabilities();

// Installs the seccomp allowlist for the whole process (all threads: TSYNC).
// Anything not listed fails with EPERM.
Status InstallSeccompFilter();

// In AddressSanitizer builds, lets LeakSanitizer's check at exit work inside the
// sandbox (the filter then also allows ptrace and wait4); a no-op otherwise.
// Call after the last request, before exit.
void AllowLeakCheckAtExit();

}  // namespace ctrsnap::fs
