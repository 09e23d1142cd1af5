// FsCore: sealing a generation (the epoch switch).
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "common/log.h"
#include "fusefs/core/fs_core.h"
#include "fusefs/core/fs_core_internal.h"

namespace ctrsnap::fs {
namespace {

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}
int64_t UnixNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// syncfs needs a real (not O_PATH) fd on the filesystem.
int SyncFs(int mount_fd) {
  UniqueFd fd(::openat(mount_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return -1;
  return ::syncfs(fd.get());
}

}  // namespace

FsMeta FsCore::MetaSnapshot() {
  std::lock_guard<std::mutex> sl(seal_mu_);
  return stack_->meta();
}

Status FsCore::SyncLive() {
  EpochReadLock l(&epoch_lock_);
  if (SyncFs(epoch_root_.get()) != 0) return Errno("syncfs");
  return Status::Ok();
}

// Order, and why:
//  1. flush the FUSE mount's dirty pages (writeback cache, shared mmap) into
//     the live generation, syncfs the overlay, create gen/N+1 and publish
//     fs.json (N sealed, N+1 live), all without blocking anyone. A crash after
//     the publish and before step 2 just moves the seal point to the crash:
//     the next start serves N+1, and N holds everything written until then.
//  2. mount epoch N+1 (see below why before blocking), flush the journal;
//  3. block operations (exclusive epoch lock), rotate the journal, switch the
//     current epoch and root; unblock. Only this is the time operations wait.
//  4. syncfs the old epoch once more (what was written between 1 and 3).
// A failure before the switch restores fs.json and removes gen/N+1.
Result<SealResult> FsCore::Seal(const std::string& label) {
  std::lock_guard<std::mutex> sl(seal_mu_);
  if (!stack_->can_seal()) return Status::Unsupported("seal needs state= (plain upperdir mode)");
  const int64_t t0 = NowUs();
  if (pre_seal_flush_) pre_seal_flush_();
  if (SyncFs(epoch_root_.get()) != 0) return Errno("syncfs before seal");
  RETURN_IF_ERROR(stack_->PrepareSeal());
  const uint64_t sealed = epoch_.load();
  const uint64_t live = sealed + 1;
  auto upper = stack_->OpenUpper(live);
  if (!upper.ok()) {
    stack_->AbortSeal();
    return upper.status();
  }
  if (Status st = stack_->CommitSeal(label, UnixNs()); !st.ok()) {
    stack_->AbortSeal();
    return st;
  }

  // Epoch N+1 is mounted before blocking anyone. Generation N still receives
  // writes through epoch N until the switch, while it already is a lower of
  // N+1: safe because nothing is looked up in N+1 before the switch, so N+1
  // holds no cached view of N (its lower dentries come from the shared,
  // coherent dcache of the underlying filesystem).
  auto mnt = stack_->MountLive();  // live() is N+1 since CommitSeal
  UniqueFd root;
  struct stat st;
  if (mnt.ok()) root.reset(::openat(mnt->get(), ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!mnt.ok() || !root || ::fstat(root.get(), &st) != 0) {
    Status err = mnt.ok() ? Errno("open new root") : mnt.status();
    Status rb = stack_->RollbackSeal();
    if (!rb.ok()) LogError("seal rollback: " + rb.ToString());
    return err;
  }
  // Most of the journal reaches its file now, so that its rotation under the
  // lock has little left to write and sync.
  if (sink_) sink_->Flush();

  // From here new operations wait (the lock prefers writers) until the
  // in-flight ones are done and the switch is made: all of it is blocked time.
  const int64_t t1 = NowUs();
  pthread_rwlock_wrlock(&epoch_lock_);
  const int64_t t_locked = NowUs();
  epoch_.store(live);
  UniqueFd old_root = std::move(epoch_root_);
  epoch_root_ = std::move(*mnt);
  live_upper_ = std::move(*upper);
  Node* r = table_->root();
  {
    std::lock_guard<NodeMutex> l(r->mu);
    r->fd = std::move(root);
    r->epoch = live;
  }
  table_->SetKey(r, live, st);
  if (sink_) sink_->OnSeal(sealed, live);
  const int64_t t2 = NowUs();
  pthread_rwlock_unlock(&epoch_lock_);

  if (SyncFs(old_root.get()) != 0) LogWarn("seal: syncfs of the sealed epoch failed");
  SealResult res;
  res.sealed = sealed;
  res.live = live;
  res.blocked_us = t2 - t1;
  res.switch_us = t2 - t_locked;
  res.total_us = NowUs() - t0;
  LogInfo("sealed generation " + std::to_string(sealed) + (label.empty() ? "" : " (" + label + ")") +
          ", live " + std::to_string(live) + ", blocked " + std::to_string(res.blocked_us) + " us (switch " +
          std::to_string(res.switch_us) + " us)");
  return res;
}

}  // namespace ctrsnap::fs
