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
#include <optional>
#include <string>
#include <vector>

#include "common/fs_meta.h"
#include "common/status.h"
#include "common/unique_fd.h"
#include "fusefs/core/compact_merge.h"

namespace ctrsnap::fs {

// One compaction: the sealed, exported generations MEMBERS (oldest first,
// consecutive but for generations compacted earlier) merged into the last one.
struct CompactRun {
  std::vector<uint64_t> members;
  uint64_t from = 0;  // lowest id covered (members[0] or what it covered)
  uint64_t into = 0;  // == members.back()
  MergeStats stats;
};

class StateDir {
 public:
  // Opens DIR, creating it with generation 1 when it has no fs.json, or
  // resuming it (never re-created). LOWERDIRS must match fs.json when both are
  // given; empty LOWERDIRS takes them from fs.json. Takes the state lock
  // (kBusy when another process still holds it after 3 s).
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
  // With RUNS (built), the same fs.json write also records their compaction.
  Status CommitSeal(const std::string& label, int64_t now_unix_ns,
                    const std::vector<CompactRun>* runs = nullptr);
  // Undoes the last CommitSeal (fs.json back to the previous state).
  Status UndoSeal();

  // Compaction (state_dir_compact.cc). Publish order, each step crash-safe:
  //   1. BuildCompaction: gen/N.merge/{upper,work,compacted} built and synced
  //      (a crash leaves an unlisted dir that Open() removes);
  //   2. fs.json records the compaction (CommitSeal with RUNS online, where the
  //      live overlay must move to a new epoch anyway; CommitCompaction
  //      offline): the atomic switch;
  //   3. SwapCompaction: gen/N <-> gen/N.merge exchanged (renameat2), each
  //      other member's upper exchanged with an empty one (Open() redoes what
  //      a crash left undone: RecoverCompaction);
  //   4. FinishCompaction: the replaced contents deleted.
  // Runs of >= 2 exported sealed generations with id <= THROUGH (all: nullopt).
  std::vector<CompactRun> PlanCompaction(std::optional<uint64_t> through) const;
  Status BuildCompaction(std::vector<CompactRun>* runs);
  Status CommitCompaction(const std::vector<CompactRun>& runs);
  Status SwapCompaction(const std::vector<CompactRun>& runs);
  // Undoes SwapCompaction (before UndoSeal, when the new epoch failed).
  Status UnswapCompaction(const std::vector<CompactRun>& runs);
  void FinishCompaction(const std::vector<CompactRun>& runs);
  // Steps 1-4 without a daemon (REQUIRES: no daemon, as Open() ensures, and
  // the snapshot lock held by the caller). Returns the runs done.
  Result<std::vector<CompactRun>> CompactOffline(std::optional<uint64_t> through);
  // Discards built but unpublished runs (step 1 only).
  void AbortCompaction(const std::vector<CompactRun>& runs);
  // Records that the sealed generations GENS are in the snapshot layer DIGEST
  // (exported_in; an already-set one is kept) and replaces fs.json when
  // anything changed. All-or-nothing: an unknown or live generation is an
  // error and nothing is marked. Returns the ids newly marked.
  Result<std::vector<uint64_t>> MarkExported(const std::vector<uint64_t>& gens,
                                             const std::string& digest);

 private:
  StateDir(std::string dir, FsMeta meta, UniqueFd lock)
      : dir_(std::move(dir)), meta_(std::move(meta)), lock_(std::move(lock)) {}

  std::string dir_;
  FsMeta meta_;
  FsMeta previous_;  // before the last CommitSeal
  UniqueFd lock_;
};

// Completes the swaps of compactions that fs.json records (step 3 above).
Status RecoverCompaction(const std::string& dir, const FsMeta& meta);
// Records RUNS in META (step 2's content).
void ApplyCompaction(const std::vector<CompactRun>& runs, FsMeta* meta);

// Removes generation directories that fs.json does not list. Returns how many.
Result<int> RemoveHalfMadeGenerations(const std::string& dir, const FsMeta& meta);

}  // namespace ctrsnap::fs
