// FsCore: sealing a generation (the epoch switch).
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "common/file_util.h"
#include "common/log.h"
#include "common/state_layout.h"
#include "fusefs/core/fs_core.h"
#include "fusefs/core/fs_core_internal.h"

namespace ctrsnap::fs {
namespace {

// How long a seal tries to find the epoch lock free before it queues for it.
constexpr int64_t kSealTryLockUs = 100000;

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

Result<std::vector<uint64_t>> FsCore::MarkExported(const std::vector<uint64_t>& gens,
                                                   const std::string& digest) {
  std::lock_guard<std::mutex> sl(seal_mu_);
  if (!stack_->can_seal()) return Status::Unsupported("no generations (plain upperdir mode)");
  return stack_->MarkExported(gens, digest);
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
//  3. block operations (exclusive epoch lock, taken when nothing is in flight
//     if that happens within kSealTryLockUs), rotate the journal, switch the
//     current epoch and root; unblock. Only this is the time operations wait.
//  4. syncfs the old epoch once more (what was written between 1 and 3).
// A failure before the switch restores fs.json and removes gen/N+1.
Result<SealResult> FsCore::Seal(const std::string& label) {
  std::lock_guard<std::mutex> sl(seal_mu_);
  return SealLocked(label, nullptr);
}

Result<CompactResult> FsCore::Compact(std::optional<uint64_t> through) {
  std::lock_guard<std::mutex> sl(seal_mu_);
  if (!stack_->can_seal()) return Status::Unsupported("compact needs state= (plain upperdir mode)");
  CompactResult res;
  res.runs = stack_->PlanCompaction(through);
  if (res.runs.empty()) return res;
  // `ctrsnap snapshot` reads the sealed generations for its whole run and
  // holds this lock meanwhile (layers/lib/snapshot.cc).
  const std::string snapshots = layout::SnapshotsDir(stack_->state_dir());
  RETURN_IF_ERROR(MakeDirs(snapshots, 0700));
  UniqueFd lock(::open((snapshots + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock) return Errno("open", snapshots + "/lock");
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    return Status(Code::kBusy, "a snapshot is being taken; compact later", EBUSY);
  }
  if (Status st = stack_->BuildCompaction(&res.runs); !st.ok()) {
    stack_->AbortCompaction(res.runs);
    return st;
  }
  auto sealed = SealLocked("", &res.runs);
  if (!sealed.ok()) return sealed.status();
  res.seal = *sealed;
  return res;
}

Result<SealResult> FsCore::SealLocked(const std::string& label, std::vector<CompactRun>* runs) {
  if (!stack_->can_seal()) return Status::Unsupported("seal needs state= (plain upperdir mode)");
  const int64_t t0 = NowUs();
  if (pre_seal_flush_) pre_seal_flush_();
  auto abort_runs = [&] {
    if (runs) stack_->AbortCompaction(*runs);
  };
  if (SyncFs(epoch_root_.get()) != 0) {
    abort_runs();
    return Errno("syncfs before seal");
  }
  if (Status st = stack_->PrepareSeal(); !st.ok()) {
    abort_runs();
    return st;
  }
  const uint64_t sealed = epoch_.load();
  const uint64_t live = sealed + 1;
  auto upper = stack_->OpenUpper(live);
  if (!upper.ok()) {
    stack_->AbortSeal();
    abort_runs();
    return upper.status();
  }
  if (Status st = stack_->CommitSeal(label, UnixNs(), runs); !st.ok()) {
    stack_->AbortSeal();
    abort_runs();
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
    Status rb = stack_->RollbackSeal(runs);
    if (!rb.ok()) LogError("seal rollback: " + rb.ToString());
    return err;
  }
  // Most of the journal reaches its file now, so that its rotation under the
  // lock has little left to write and sync.
  if (sink_) sink_->Flush();

  // First try to catch a moment when no operation is in flight, without
  // blocking anyone: a failed trywrlock does not stop new readers (the
  // blocking wrlock does, since the lock prefers writers). An in-flight write
  // can sit in the kernel's dirty-page throttling for up to 200 ms; waiting
  // for it in wrlock would block every new operation meanwhile.
  // From the lock on, new operations wait until the switch is made: that is
  // the blocked time (for the fallback, the whole wrlock wait too).
  int64_t t1 = NowUs();
  const int64_t try_until = t1 + kSealTryLockUs;
  bool locked = false;
  while (!(locked = pthread_rwlock_trywrlock(&epoch_lock_) == 0) && NowUs() < try_until) {
    ::usleep(20);
  }
  if (locked) {
    t1 = NowUs();
  } else {
    t1 = NowUs();
    pthread_rwlock_wrlock(&epoch_lock_);
  }
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
  std::vector<UniqueFd> retired = TakeRetiredFds();
  // The names of a file hard-linked in the sealed generation are separate
  // inodes from now on (a lower hard link, index=off: copy-up of one name
  // breaks the link, as under Docker's overlay2), so each must be its own
  // node. The kernel still maps them all to one node and keeps its own
  // nlink count for it (a link(2) through a surviving name then failed
  // with ENOENT once the others were unlinked). The further names leave the
  // table here and the kernel is told to look them up again.
  std::vector<std::pair<Node*, std::string>> split;
  if (invalidate_entry_) split = table_->TakeExtraNames();
  const int64_t t2 = NowUs();
  pthread_rwlock_unlock(&epoch_lock_);
  retired.clear();  // nothing in flight used them when the lock was held
  InvalidateNames(&split);

  if (SyncFs(old_root.get()) != 0) LogWarn("seal: syncfs of the sealed epoch failed");
  // Nothing is looked up through the old epoch any more (nodes and handles
  // re-resolve in the new one; orphans hold their open files, which outlive
  // their names): what the compaction replaced can go.
  if (runs) stack_->FinishCompaction(*runs);
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
