// StateDir: one ctrsnap-fs state directory (layout in common/state_layout.h).
//
// Invariants:
//   - fs.json is the truth: a generation directory that fs.json does not list
//     is half-made (a seal that crashed before publishing) and is removed by
//     Open(); a listed one is never removed here.
//   - A seal publishes in this order: gen/N+1/{upper,work} created (PrepareNext),
//     then fs.json replaced atomically (CommitSeal). A crash in between leaves
//     the old state, and the next Open() removes gen/N+1.
//   - The daemon holds flock(LOCK_EX) on STATE/lock for the life of the StateDir.
// Thread-safety: not thread-safe; the seal path serialises its callers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/fs_meta.h"
#include "common/status.h"
#include "common/unique_fd.h"

namespace ctrsnap::fs {

class StateDir {
 public:
  // Opens DIR, creating it with generation 1 when it has no fs.json, or
  // resuming it (never re-created). LOWERDIRS must match fs.json when both are
  // given; empty LOWERDIRS takes them from fs.json. Takes the state lock
  // (kBusy when another process holds it).
  static Result<StateDir> Open(const std::string& dir, const std::vector<std::string>& lowerdirs,
                               int64_t now_unix_ns);

  const std::string& dir() const { return dir_; }
  const FsMeta& meta() const { return meta_; }
  uint64_t live() const { return meta_.live().id; }
  std::string UpperDir(uint64_t gen) const;
  std::string WorkDir(uint64_t gen) const;

  // Creates empty gen/live+1/{upper,work} (replacing leftovers).
  Status PrepareNext();
  // Removes gen/live+1 after a failed seal.
  void AbortNext();
  // Marks the live generation sealed (with LABEL when not empty), appends a new
  // live generation and replaces fs.json. REQUIRES: PrepareNext() succeeded.
  Status CommitSeal(const std::string& label, int64_t now_unix_ns);
  // Undoes the last CommitSeal (fs.json back to the previous state).
  Status UndoSeal();

 private:
  StateDir(std::string dir, FsMeta meta, UniqueFd lock)
      : dir_(std::move(dir)), meta_(std::move(meta)), lock_(std::move(lock)) {}

  std::string dir_;
  FsMeta meta_;
  FsMeta previous_;  // before the last CommitSeal
  UniqueFd lock_;
};

// Removes generation directories that fs.json does not list. Returns how many.
Result<int> RemoveHalfMadeGenerations(const std::string& dir, const FsMeta& meta);

}  // namespace ctrsnap::fs
