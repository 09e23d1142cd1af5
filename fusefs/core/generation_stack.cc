#include "fusefs/core/generation_stack.h"

#include <fcntl.h>

#include <cerrno>

namespace ctrsnap::fs {
namespace {

Result<std::vector<UniqueFd>> OpenLowers(const std::vector<std::string>& lowerdirs) {
  std::vector<UniqueFd> out;
  for (const auto& p : lowerdirs) {
    ASSIGN_OR_RETURN(UniqueFd fd, OpenLayerDir(p));
    out.push_back(std::move(fd));
  }
  return out;
}

}  // namespace

Result<std::unique_ptr<GenerationStack>> GenerationStack::OpenPlain(
    const std::vector<std::string>& lowerdirs, const std::string& upperdir,
    const std::string& workdir) {
  std::unique_ptr<GenerationStack> s(new GenerationStack());
  ASSIGN_OR_RETURN(s->lowers_, OpenLowers(lowerdirs));
  ASSIGN_OR_RETURN(s->plain_upper_, OpenLayerDir(upperdir));
  ASSIGN_OR_RETURN(s->plain_work_, OpenLayerDir(workdir));
  return s;
}

Result<std::unique_ptr<GenerationStack>> GenerationStack::OpenState(StateDir state) {
  std::unique_ptr<GenerationStack> s(new GenerationStack());
  ASSIGN_OR_RETURN(s->lowers_, OpenLowers(state.meta().lowerdirs));
  s->state_.emplace(std::move(state));
  return s;
}

const std::string& GenerationStack::state_dir() const {
  static const std::string kNone;
  return state_ ? state_->dir() : kNone;
}

Result<int> GenerationStack::GenUpperFd(uint64_t gen) {
  if (gen_uppers_.size() < gen) gen_uppers_.resize(gen);
  UniqueFd& fd = gen_uppers_[gen - 1];
  if (!fd) {
    ASSIGN_OR_RETURN(fd, OpenLayerDir(state_->UpperDir(gen)));
  }
  return fd.get();
}

Result<UniqueFd> GenerationStack::OpenUpper(uint64_t gen) const {
  if (!state_) return OpenLayerDir("/proc/self/fd/" + std::to_string(plain_upper_.get()));
  return OpenLayerDir(state_->UpperDir(gen));
}

Result<UniqueFd> GenerationStack::Mount(uint64_t upper_gen) {
  OverlayLayers layers;
  UniqueFd work;
  if (!state_) {
    layers.upper = plain_upper_.get();
    layers.work = plain_work_.get();
  } else {
    ASSIGN_OR_RETURN(layers.upper, GenUpperFd(upper_gen));
    ASSIGN_OR_RETURN(work, OpenLayerDir(state_->WorkDir(upper_gen)));
    layers.work = work.get();
    for (uint64_t g = upper_gen - 1; g >= 1; --g) {
      // Compacted into a later generation: empty, left out of the stack.
      if (const GenerationMeta* m = state_->meta().Find(g); m && m->compacted_into != 0) continue;
      ASSIGN_OR_RETURN(int fd, GenUpperFd(g));
      layers.lowers.push_back(fd);
    }
  }
  for (const auto& fd : lowers_) layers.lowers.push_back(fd.get());
  auto r = MountOverlay(layers, &features_);
  if (!r.ok()) return r.status().WithContext("mount epoch " + std::to_string(upper_gen));
  return r;
}

Result<UniqueFd> GenerationStack::MountLive() { return Mount(live()); }

Status GenerationStack::PrepareSeal() {
  if (!state_) return Status::Unsupported("seal needs state= (plain upperdir mode)");
  return state_->PrepareNext();
}


Status GenerationStack::CommitSeal(const std::string& label, int64_t now_unix_ns,
                                   const std::vector<CompactRun>* runs) {
  RETURN_IF_ERROR(state_->CommitSeal(label, now_unix_ns, runs));
  if (!runs) return Status::Ok();
  gen_uppers_.clear();  // the merged generations' directories change
  Status st = state_->SwapCompaction(*runs);
  if (!st.ok()) {
    // Disk: fs.json names the runs, RecoverCompaction finishes the swap at the
    // next start. Memory: back to before the seal.
    Status un = state_->UnswapCompaction(*runs);
    Status undo = un.ok() ? state_->UndoSeal() : un;
    if (undo.ok()) {
      state_->AbortNext();
      state_->AbortCompaction(*runs);
    }
    return st.WithContext(undo.ok() ? "compact (undone)" : "compact (" + undo.ToString() + ")");
  }
  return Status::Ok();
}

void GenerationStack::AbortSeal() {
  if (state_) state_->AbortNext();
}

Status GenerationStack::RollbackSeal(const std::vector<CompactRun>* runs) {
  if (!state_) return Status::Ok();
  if (runs) {
    gen_uppers_.clear();
    RETURN_IF_ERROR(state_->UnswapCompaction(*runs));
  }
  RETURN_IF_ERROR(state_->UndoSeal());
  state_->AbortNext();
  if (runs) state_->AbortCompaction(*runs);
  return Status::Ok();
}

}  // namespace ctrsnap::fs
