// Starting, querying and stopping a container's ctrsnap-fs daemon.
//
// The daemon holds flock(LOCK_EX) on STATE/lock for its whole life, so
// "alive" means "the lock is held"; its pid is the lock holder's, found in
// /proc/locks. It mounts over the container's original root (MOUNTPOINT ==
// lower), having opened the lower first, so host tools that read the root
// path (docker cp, docker export) see what the container sees.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace ctrsnap::shim {

struct FsLaunch {
  std::string fs_binary;  // ctrsnap-fs (or a compatible program, for tests)
  std::string lowerdir;
  std::string state_dir;
  std::string mountpoint;
  bool writeback_cache = true;  // false: -o writeback_cache=off
  int timeout_ms = 30000;
};

// `FS -o lowerdir=L,state=S MOUNTPOINT`, detached (RunDetached: own session,
// cgroup "ctrsnap", no inherited fds, stderr to STATE/daemon.log), and waits
// until it is mounted. Paths with ',' cannot be passed in -o and are refused.
Status StartFsDaemon(const FsLaunch& launch);

// Whether some process holds STATE/lock (the daemon, or an offline tool).
bool StateLocked(const std::string& state_dir);
// The pid holding flock on STATE/lock, from /proc/locks.
std::optional<pid_t> LockHolderPid(const std::string& state_dir);

// The filesystem type of the topmost mount at exactly PATH ("" when PATH is
// not a mount point), from /proc/self/mountinfo.
std::string TopMountType(const std::string& path);
inline bool IsFuseType(const std::string& type) { return type.rfind("fuse", 0) == 0; }

// Control calls (thin wrappers of ControlCall).
Result<nlohmann::json> FsStatus(const std::string& state_dir, int timeout_ms = 5000);
// Seals the live generation with LABEL; with IF_NOT_EMPTY, only when the
// live generation holds files (per status), returning false when skipped.
Result<bool> FsSeal(const std::string& state_dir, const std::string& label, bool if_not_empty,
                    int timeout_ms = 30000);

// Unmounts MOUNTPOINT when a FUSE mount is on top of it (lazily, so a stray
// reference cannot block delete), keeps what the generations need from the
// lower view in its place (lower_residue.h) and unmounts the view, then waits
// up to TIMEOUT_MS for the daemon to release STATE/lock; then SIGTERM, then
// SIGKILL.
Status StopFsDaemon(const std::string& state_dir, const std::string& mountpoint,
                    int timeout_ms = 10000);

}  // namespace ctrsnap::shim
