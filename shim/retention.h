// Retention of exited containers' state, for post-mortem snapshots.
//
// A state dir is prunable only when its container has exited (STATE/exit.json
// exists) and no daemon or tool holds STATE/lock. A Docker container's state
// is also kept while Docker still has the container (its layer directory,
// the parent of the original rootfs, exists): `docker start` of a stopped
// container needs every file written before, and those live only here.
//
// Plan (pure, see PlanPrune): among the prunable, keep the newest
// keep_exited by exit time and prune the rest; then, oldest first, prune
// more until all states together fit in max_bytes.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"

namespace ctrsnap::shim {

struct StateEntry {
  std::string id;
  std::string dir;
  std::string engine;
  bool running = false;      // lock held
  bool exited = false;       // exit.json present
  bool engine_holds = false; // the engine still has the container
  int64_t exited_unix_ns = 0;
  uint64_t bytes = 0;
};

struct RetentionPolicy {
  uint64_t keep_exited = 10;
  uint64_t max_bytes = 10ULL << 30;
};

// Every state dir under ROOT (entries that are not container state dirs,
// e.g. stray files, are skipped). Sizes are disk usage (st_blocks).
Result<std::vector<StateEntry>> ListStates(const std::string& root);

// Which entries to prune, oldest exit first. Never a running, not-exited or
// engine-held entry.
std::vector<StateEntry> PlanPrune(const std::vector<StateEntry>& entries,
                                  const RetentionPolicy& policy);

// Removes ENTRY's directory while holding its lock (skipped, with an error,
// if the lock is taken meanwhile).
Status PruneState(const StateEntry& entry);

// Disk usage of the tree at PATH (no symlinks followed, one filesystem).
uint64_t DiskUsage(const std::string& path);

}  // namespace ctrsnap::shim
