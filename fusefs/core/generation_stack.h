// GenerationStack: which directories make up the overlay of each epoch.
//
// Epoch e (= the live generation's id) is a private overlay mount with
//   lowerdir = gen_{e-1}/upper : ... : gen_1/upper : LOWER...,  upperdir = gen_e/upper.
// In plain mode (upperdir=/workdir= options) there is one epoch and no seal.
// Layer directories are opened once as fds, before ctrsnap-fs is mounted (the
// mount may hide the lower's own path).
// Thread-safety: not thread-safe; FsCore calls it under its seal mutex.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/fs_meta.h"
#include "common/status.h"
#include "common/unique_fd.h"
#include "fusefs/core/overlay_mount.h"
#include "fusefs/core/state_dir.h"

namespace ctrsnap::fs {

class GenerationStack {
 public:
  static Result<std::unique_ptr<GenerationStack>> OpenPlain(
      const std::vector<std::string>& lowerdirs, const std::string& upperdir,
      const std::string& workdir);
  static Result<std::unique_ptr<GenerationStack>> OpenState(StateDir state);

  bool can_seal() const { return state_.has_value(); }
  uint64_t live() const { return state_ ? state_->live() : 1; }
  // REQUIRES: can_seal()
  const FsMeta& meta() const { return state_->meta(); }
  const std::string& state_dir() const;

  // Mounts the live epoch.
  Result<UniqueFd> MountLive();
  // Seal, step 1 (no lock needed): creates gen/live+1.
  Status PrepareSeal();
  // Seal, step 2: publishes fs.json; after this live() is the new
  // generation, and MountLive() mounts it (the sealed one as top lower).
  // With RUNS (built by BuildCompaction), the same fs.json write records the
  // compaction, and the merged trees are swapped in (SwapCompaction) before
  // it returns: the next MountLive() stacks them instead of their members.
  Status CommitSeal(const std::string& label, int64_t now_unix_ns,
                    const std::vector<CompactRun>* runs = nullptr);
  // Undo of step 1 (when step 2 failed).
  void AbortSeal();
  // Undo of steps 2 and 1: restores fs.json and removes the new generation
  // (and undoes the swap of RUNS).
  Status RollbackSeal(const std::vector<CompactRun>* runs = nullptr);
  // Compaction (see StateDir). REQUIRES: can_seal().
  std::vector<CompactRun> PlanCompaction(std::optional<uint64_t> through) const {
    return state_->PlanCompaction(through);
  }
  Status BuildCompaction(std::vector<CompactRun>* runs) { return state_->BuildCompaction(runs); }
  void AbortCompaction(const std::vector<CompactRun>& runs) { state_->AbortCompaction(runs); }
  // Deletes what the runs replaced. Only once no overlay mount is used anymore
  // to look things up in it (after the epoch switch).
  void FinishCompaction(const std::vector<CompactRun>& runs) { state_->FinishCompaction(runs); }
  // See StateDir::MarkExported. REQUIRES: can_seal().
  Result<std::vector<uint64_t>> MarkExported(const std::vector<uint64_t>& gens,
                                             const std::string& digest) {
    return state_->MarkExported(gens, digest);
  }
  // An fd on the upper directory of generation GEN (for syncfs and sizes).
  Result<UniqueFd> OpenUpper(uint64_t gen) const;

  const OverlayFeatures& features() const { return features_; }

 private:
  GenerationStack() = default;
  Result<int> GenUpperFd(uint64_t gen);
  Result<UniqueFd> Mount(uint64_t upper_gen);

  std::vector<UniqueFd> lowers_;  // LOWER, top first
  std::optional<StateDir> state_;
  UniqueFd plain_upper_, plain_work_;
  std::vector<UniqueFd> gen_uppers_;  // index gen-1; opened lazily
  OverlayFeatures features_;
};

}  // namespace ctrsnap::fs
