// The ctrsnap-fs daemon: builds the core from FsOptions, mounts FUSE, starts
// the journal and the control socket, confines itself, and serves requests
// until unmounted.
#pragma once

#include "fusefs/core/options.h"

namespace ctrsnap::fs {

// Runs the daemon in this process. Once the mount is live (or setup failed),
// writes "OK\n" or "ERR <message>\n" to READY_FD (when >= 0) and closes it.
// Returns the process exit status.
int RunDaemon(const FsOptions& options, int ready_fd);

// Forks: the child calls RunDaemon in a new session; the parent waits until
// the mount is live and returns 0, or prints the child's error and returns 1.
int RunDaemonized(const FsOptions& options);

}  // namespace ctrsnap::fs
