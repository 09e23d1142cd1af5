// FsCore: the copy-on-write filesystem behind ctrsnap-fs, without FUSE.
//
// Every operation is answered from a private kernel overlayfs mount, the
// *epoch* (see GenerationStack), by fd-relative calls with O_NOFOLLOW: a
// container's symlink is never followed on the host. Node ids and handle ids
// are opaque 64-bit values handed to the kernel (FUSE nodeids / fh).
//
// Point in time: every operation holds the epoch lock shared for its whole
// duration; Seal() holds it exclusively while it switches epochs, so each
// operation (a rename across directories included) lies entirely before or
// entirely after a seal. Nodes and open handles of an older epoch are
// re-resolved by path in the current epoch at their next use; a write then
// copies the file up into the new generation. Fds of an old epoch are only
// kept by handles of unlinked files (orphans), so no path can modify a
// sealed generation.
//
// Thread-safety: all public methods may be called from many threads.
#pragma once

#include <pthread.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/status.h"
#include "common/unique_fd.h"
#include "fusefs/core/generation_stack.h"
#include "fusefs/core/mutation.h"
#include "fusefs/core/node_table.h"

namespace ctrsnap::fs {

inline constexpr uint64_t kRootNodeId = 1;

struct Entry {
  uint64_t nodeid = 0;
  struct stat attr = {};
};

// Which fields SetAttr changes.
enum SetAttrBits : int {
  kSetMode = 1 << 0,
  kSetUid = 1 << 1,
  kSetGid = 1 << 2,
  kSetSize = 1 << 3,
  kSetAtime = 1 << 4,
  kSetMtime = 1 << 5,
  kSetAtimeNow = 1 << 6,
  kSetMtimeNow = 1 << 7,
};

// One directory entry; entry is set only for readdirplus (a lookup was done).
struct DirEntry {
  std::string_view name;
  struct stat attr = {};  // st_ino and st_mode type bits at least
  const Entry* entry = nullptr;
  off_t next_offset = 0;
};

struct SealResult {
  uint64_t sealed = 0;
  uint64_t live = 0;
  int64_t blocked_us = 0;  // time new operations were blocked (lock wait + switch)
  int64_t switch_us = 0;   // of which the switch itself, under the exclusive lock
  int64_t total_us = 0;
};

struct CompactResult {
  std::vector<CompactRun> runs;  // empty: nothing to compact (and no seal)
  SealResult seal;               // the epoch switch that put the runs in place
};

using FdRef = std::shared_ptr<UniqueFd>;

class FsCore {
 public:
  // SINK may be null (no journal). REQUIRES: SINK outlives the core.
  static Result<std::unique_ptr<FsCore>> Create(std::unique_ptr<GenerationStack> stack,
                                                MutationSink* sink);
  ~FsCore();

  // Called by Seal() before it blocks operations, to push dirty pages of the
  // FUSE mount (syncfs on the mountpoint) into the live generation.
  void SetPreSealFlush(std::function<void()> flush) { pre_seal_flush_ = std::move(flush); }
  // Called after a seal, outside every lock, for each name the kernel must
  // look up again (fuse_lowlevel_notify_inval_entry): see SealLocked.
  using InvalidateEntryFn = std::function<void(uint64_t parent, const std::string& name)>;
  void SetInvalidateEntry(InvalidateEntryFn fn) { invalidate_entry_ = std::move(fn); }

  Result<Entry> Lookup(uint64_t parent, std::string_view name);
  void Forget(uint64_t node, uint64_t nlookup);
  Result<struct stat> GetAttr(uint64_t node, uint64_t fh);
  Result<struct stat> SetAttr(const Caller& c, uint64_t node, const struct stat& attr, int bits,
                              uint64_t fh);
  Result<std::string> ReadLink(uint64_t node);
  Result<struct statvfs> StatFs();

  Result<Entry> Mknod(const Caller& c, uint64_t parent, std::string_view name, mode_t mode,
                      dev_t rdev);
  Result<Entry> Mkdir(const Caller& c, uint64_t parent, std::string_view name, mode_t mode);
  Result<Entry> Symlink(const Caller& c, uint64_t parent, std::string_view name,
                        std::string_view target);
  Result<Entry> Link(const Caller& c, uint64_t node, uint64_t newparent, std::string_view newname);
  Status Unlink(const Caller& c, uint64_t parent, std::string_view name);
  Status Rmdir(const Caller& c, uint64_t parent, std::string_view name);
  Status Rename(const Caller& c, uint64_t parent, std::string_view name, uint64_t newparent,
                std::string_view newname, unsigned flags);

  // Open/Create return a handle id. FLAGS are open(2) flags as the kernel sent them.
  Result<uint64_t> Open(const Caller& c, uint64_t node, int flags);
  Result<std::pair<Entry, uint64_t>> Create(const Caller& c, uint64_t parent,
                                            std::string_view name, mode_t mode, int flags);
  // The fd to read from (valid while the returned reference lives).
  Result<FdRef> ReadFd(uint64_t fh);
  // Runs WRITER(fd) under the epoch lock on the current-epoch fd of FH; WRITER
  // returns bytes written or -errno.
  Result<size_t> Write(const Caller& c, uint64_t fh, off_t off,
                       const std::function<ssize_t(int fd)>& writer);
  Status Flush(uint64_t fh);
  void Release(uint64_t fh);
  Status Fsync(uint64_t fh, bool datasync);
  Status Fallocate(const Caller& c, uint64_t fh, int mode, off_t off, off_t len);
  Result<size_t> CopyFileRange(const Caller& c, uint64_t fh_in, off_t off_in, uint64_t fh_out,
                               off_t off_out, size_t len, unsigned flags);
  Result<off_t> Lseek(uint64_t fh, off_t off, int whence);

  Result<uint64_t> OpenDir(uint64_t node);
  // Calls EMIT for entries from OFFSET until it returns false (buffer full).
  Status ReadDir(uint64_t fh, off_t offset, bool plus,
                 const std::function<bool(const DirEntry&)>& emit);
  void ReleaseDir(uint64_t fh);
  Status FsyncDir(uint64_t fh, bool datasync);

  Status SetXattr(const Caller& c, uint64_t node, const std::string& name,
                  std::string_view value, int flags);
  // SIZE 0: returns the size needed (value empty).
  Result<std::string> GetXattr(uint64_t node, const std::string& name, size_t size,
                               size_t* needed);
  Result<std::string> ListXattr(uint64_t node, size_t size, size_t* needed);
  Status RemoveXattr(const Caller& c, uint64_t node, const std::string& name);

  // Control operations.
  Result<SealResult> Seal(const std::string& label);
  uint64_t live_generation() const { return epoch_.load(); }
  bool can_seal() const { return stack_->can_seal(); }
  // Merges runs of exported sealed generations (<= THROUGH) into one each,
  // while operations go on: built without blocking anyone, then put in place
  // by a seal (the live overlay stacks the sealed generations, so it moves to
  // a new epoch). kBusy while a snapshot is being taken (it reads them).
  Result<CompactResult> Compact(std::optional<uint64_t> through);
  // Records exported generations in fs.json (see StateDir::MarkExported);
  // serialised with seals.
  Result<std::vector<uint64_t>> MarkExported(const std::vector<uint64_t>& gens,
                                             const std::string& digest);
  // A copy of fs.json's content as of now. REQUIRES: can_seal().
  FsMeta MetaSnapshot();
  std::string state_dir() const { return stack_->state_dir(); }
  size_t node_count() { return table_->size(); }
  // Asks the kernel (invalidate-entry callback) to drop up to MAX cached
  // names of idle nodes, so that it forgets their inodes and their O_PATH
  // descriptors close: what keeps a tree larger than RLIMIT_NOFILE usable.
  // Call from a thread that serves no FUSE request. Returns the names sent.
  size_t ShedIdleEntries(size_t max);
  // Closes the fds replaced while operations could still use them, if it
  // finds a moment when no operation is in flight (it never makes one wait).
  // A seal does it too; without seals the daemon calls it now and then.
  void CloseRetiredFds();
  // Writes the live generation's data to disk (syncfs of the overlay).
  Status SyncLive();

 private:
  struct Handle;
  class EpochReadLock;
  // Seal() with seal_mu_ held; RUNS (built) are put in place by the same switch.
  Result<SealResult> SealLocked(const std::string& label, std::vector<CompactRun>* runs);
  FsCore() = default;

  Node* NodeOf(uint64_t id) { return id == kRootNodeId ? table_->root() : reinterpret_cast<Node*>(id); }
  static uint64_t IdOf(Node* n, Node* root) { return n == root ? kRootNodeId : reinterpret_cast<uint64_t>(n); }
  Handle* HandleOf(uint64_t fh) { return reinterpret_cast<Handle*>(fh); }

  // REQUIRES: epoch lock held (shared or exclusive).
  Result<int> NodeFd(Node* n);
  // Opens N anew by its parent link in the current epoch (O_PATH), with its
  // stat in *ST; ESTALE when it has no path, its name is gone or its type
  // changed. REQUIRES: epoch lock held.
  Result<UniqueFd> OpenByName(Node* n, struct stat* st);
  // Tells the kernel to look each (parent, name) up again and drops the
  // parent refs they came with. Outside every lock.
  void InvalidateNames(std::vector<std::pair<Node*, std::string>>* names);
  // NodeFd, or for a node unlinked before a seal its old-epoch fd (see .cc).
  Result<int> NodeFdOrOrphan(Node* n, bool for_write);
  Result<FdRef> HandleFd(Handle* h, bool for_write);
  Result<Entry> LookupAt(Node* parent, int parent_fd, std::string_view name);
  // Whether PARENT/NAME exists in the live generation's upper directory.
  bool InLiveUpper(Node* parent, const std::string& name);
  Status ReopenHandlesOf(Node* n);
  // After one name of N went (unlink, rename over it) while N keeps another:
  // N's fd may be on the name that went. The names of a hard-linked lower
  // file are separate overlay inodes (index=off), so using it would change
  // (copy up) a deleted name instead of the one the caller used.
  void ReresolveAfterNameLoss(Node* n);
  // Replaces N's fd by one opened by its own name in the current epoch (the
  // old one is retired); KEY: enter it in the table under that file's key.
  void ReopenByOwnName(Node* n, bool key);
  // The retired fds, to close once the lock is released.
  // REQUIRES: epoch lock held exclusively (nothing in flight uses them).
  std::vector<UniqueFd> TakeRetiredFds();
  Result<Node*> ChildNode(Node* parent, int parent_fd, std::string_view name);
  std::string ChildPath(Node* parent, std::string_view name);
  void Record(MutationOp op, std::string path, uint64_t ino, const Caller& c, uint64_t off = 0,
              uint64_t len = 0, uint64_t fh = 0, std::string path2 = {});
  void RecordNode(MutationOp op, Node* n, const Caller& c, uint64_t off = 0, uint64_t len = 0,
                  uint64_t fh = 0);
  // Fills generation and sends M to the sink (no-op without a sink).
  void Emit(Mutation& m);
  bool journaling() const { return sink_ != nullptr; }
  Result<struct stat> StatNode(Node* n, int fd);

  std::unique_ptr<GenerationStack> stack_;
  MutationSink* sink_ = nullptr;
  std::unique_ptr<NodeTable> table_;
  std::function<void()> pre_seal_flush_;
  InvalidateEntryFn invalidate_entry_;

  // Epoch lock: writer-preferring, so a seal is not starved by a stream of
  // operations. Never taken recursively.
  pthread_rwlock_t epoch_lock_;
  std::atomic<uint64_t> epoch_{0};
  UniqueFd epoch_root_;  // (epoch lock) root of the current overlay mount
  UniqueFd live_upper_;  // (epoch lock) upper directory of the live generation
  std::mutex seal_mu_;   // one seal at a time; before epoch_lock_

  // Fds replaced while operations may still use them (ReresolveAfterNameLoss);
  // closed at the next seal or CloseRetiredFds, when nothing is in flight.
  std::mutex retired_mu_;
  std::vector<UniqueFd> retired_fds_;  // (retired_mu_)

  std::mutex handles_mu_;  // guards handles_; lock order: handles_mu_ > Handle::mu
  std::unordered_multimap<Node*, Handle*> handles_;
};

}  // namespace ctrsnap::fs
