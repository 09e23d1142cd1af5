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
//     the live generation, and syncfs the overlay, without blocking anyone;
//  2. create gen/N+1 on disk;
//  3. block operations (exclusive epoch lock), syncfs again (only what was
//     written since step 1), mount epoch N+1, publish fs.json, switch the
//     current epoch and root; unblock.
// A failure before the fs.json publish leaves everything as it was.
Result<SealResult> FsCore::Seal(const std::string& label) {
  std::lock_guard<std::mutex> sl(seal_mu_);
  if (!stack_->can_seal()) return Status::Unsupported("seal needs state= (plain upperdir mode)");
  const int64_t t0 = NowUs();
  if (pre_seal_flush_) pre_seal_flush_();
  if (SyncFs(epoch_root_.get()) != 0) return Errno("syncfs before seal");
  RETURN_IF_ERROR(stack_->PrepareSeal());

  pthread_rwlock_wrlock(&epoch_lock_);
  const int64_t t1 = NowUs();
  auto unlock_and_abort = [&](Status st) {
    pthread_rwlock_unlock(&epoch_lock_);
    stack_->AbortSeal();
    return st;
  };
  if (SyncFs(epoch_root_.get()) != 0) return unlock_and_abort(Errno("syncfs in seal"));
  auto mnt = stack_->MountNext();
  if (!mnt.ok()) return unlock_and_abort(mnt.status());
  UniqueFd root(::openat(mnt->get(), ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  struct stat st;
  if (!root || ::fstat(root.get(), &st) != 0) return unlock_and_abort(Errno("open new root"));
  const uint64_t sealed = epoch_.load();
  auto upper = stack_->OpenUpper(sealed + 1);
  if (!upper.ok()) return unlock_and_abort(upper.status());
  Status commit = stack_->CommitSeal(label, UnixNs());
  if (!commit.ok()) return unlock_and_abort(commit);
  const uint64_t live = sealed + 1;
  epoch_.store(live);
  epoch_root_ = std::move(*mnt);
  live_upper_ = std::move(*upper);
  Node* r = table_->root();
  {
    std::lock_guard<std::mutex> l(r->mu);
    r->fd = std::move(root);
    r->epoch = live;
  }
  table_->SetKey(r, live, st);
  if (sink_) sink_->OnSeal(sealed, live);
  const int64_t t2 = NowUs();
  pthread_rwlock_unlock(&epoch_lock_);

  SealResult res;
  res.sealed = sealed;
  res.live = live;
  res.blocked_us = t2 - t1;
  res.total_us = NowUs() - t0;
  LogInfo("sealed generation " + std::to_string(sealed) + (label.empty() ? "" : " (" + label + ")") +
          ", live " + std::to_string(live) + ", blocked " + std::to_string(res.blocked_us) + " us");
  return res;
}

}  // namespace ctrsnap::fs
