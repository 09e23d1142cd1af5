// FsCore: operations that change names (create, link, unlink, rename, ...).
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "fusefs/core/creds.h"
#include "fusefs/core/fs_core.h"
#include "fusefs/core/fs_core_internal.h"

namespace ctrsnap::fs {
namespace {

Status CheckName(std::string_view name) {
  if (name.size() > NAME_MAX) return Status::FromErrno(ENAMETOOLONG, "create");
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string_view::npos) {
    return Status::FromErrno(EINVAL, "create", name);
  }
  return Status::Ok();
}

// NAME in PFD and NEWNAME in NPFD are two names of one non-directory file
// with several links (the overlay gives both the same st_dev and st_ino).
bool SameHardLinkedFile(int pfd, const std::string& name, int npfd, const std::string& newname) {
  struct stat a, b;
  if (::fstatat(npfd, newname.c_str(), &b, AT_SYMLINK_NOFOLLOW) != 0) return false;
  if (S_ISDIR(b.st_mode) || b.st_nlink < 2) return false;
  if (::fstatat(pfd, name.c_str(), &a, AT_SYMLINK_NOFOLLOW) != 0) return false;
  return a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

}  // namespace

Result<Node*> FsCore::ChildNode(Node* parent, int parent_fd, std::string_view name) {
  // The node last known under PARENT/NAME. It may be older than a re-creation
  // of the name; callers only use it to bring its handles to the current
  // epoch, which is harmless for any node.
  (void)parent_fd;
  return table_->FindChild(parent, name);
}

Status FsCore::ReopenHandlesOf(Node* n) {
  // Handles of an older epoch must move to the current epoch before the name
  // goes away, or they could never be reopened and would write into a sealed
  // generation.
  // handles_mu_ is held throughout so that Release() cannot free a handle
  // being reopened (lock order: handles_mu_ > Handle::mu).
  std::lock_guard<std::mutex> l(handles_mu_);
  auto [b, e] = handles_.equal_range(n);
  for (auto it = b; it != e; ++it) {
    auto r = HandleFd(it->second, /*for_write=*/false);
    if (!r.ok()) return r.status();
  }
  return Status::Ok();
}

void FsCore::ReresolveAfterNameLoss(Node* n) {
  // Directories have one name. Without seals every name a node has is one
  // inode of the overlay (lower hard links get a node per name), so its fd
  // stays right.
  if (n->type == S_IFDIR || !stack_->can_seal()) return;
  ReopenByOwnName(n, /*key=*/true);
}

void FsCore::ReopenByOwnName(Node* n, bool key) {
  // No name left (an orphan: its fd is all there is) or none that opens:
  // nothing better than the fd it has.
  struct stat st;
  auto fd = OpenByName(n, &st);
  if (!fd.ok()) return;
  const uint64_t cur = epoch_.load();
  UniqueFd old;
  {
    std::lock_guard<NodeMutex> l(n->mu);
    if (n->epoch != cur) return;  // re-resolved by name at its next use anyway
    old = std::move(n->fd);
    n->fd = std::move(*fd);
  }
  if (key) table_->SetKey(n, cur, st);
  // Another operation in this epoch may hold the old fd's number.
  std::lock_guard<std::mutex> rl(retired_mu_);
  retired_fds_.push_back(std::move(old));
}

std::vector<UniqueFd> FsCore::TakeRetiredFds() {
  std::vector<UniqueFd> retired;
  std::lock_guard<std::mutex> rl(retired_mu_);
  retired.swap(retired_fds_);
  return retired;
}

void FsCore::CloseRetiredFds() {
  {
    std::lock_guard<std::mutex> rl(retired_mu_);
    if (retired_fds_.empty()) return;
  }
  // Only when nothing is in flight, without queueing for the lock: a blocked
  // wrlock would hold up every new operation behind a write the kernel is
  // throttling (see the seal). A busy moment waits for the next call.
  if (pthread_rwlock_trywrlock(&epoch_lock_) != 0) return;
  std::vector<UniqueFd> retired = TakeRetiredFds();
  pthread_rwlock_unlock(&epoch_lock_);
}

Result<Entry> FsCore::Mknod(const Caller& c, uint64_t parent, std::string_view name, mode_t mode,
                            dev_t rdev) {
  RETURN_IF_ERROR(CheckName(name));
  EpochReadLock l(&epoch_lock_);
  Node* p = NodeOf(parent);
  ASSIGN_OR_RETURN(int pfd, NodeFd(p));
  std::string s(name);
  {
    ScopedCallerCreds creds(c);
    if (::mknodat(pfd, s.c_str(), mode, rdev) != 0) return Errno("mknod", name);
  }
  ASSIGN_OR_RETURN(Entry e, LookupAt(p, pfd, name));
  if (journaling()) {
    Mutation m{.op = MutationOp::kMknod, .path = ChildPath(p, name), .ino = e.attr.st_ino,
               .mode = e.attr.st_mode, .rdev = static_cast<uint32_t>(rdev), .caller = c};
    Emit(m);
  }
  return e;
}

Result<Entry> FsCore::Mkdir(const Caller& c, uint64_t parent, std::string_view name,
                            mode_t mode) {
  RETURN_IF_ERROR(CheckName(name));
  EpochReadLock l(&epoch_lock_);
  Node* p = NodeOf(parent);
  ASSIGN_OR_RETURN(int pfd, NodeFd(p));
  std::string s(name);
  {
    ScopedCallerCreds creds(c);
    if (::mkdirat(pfd, s.c_str(), mode) != 0) return Errno("mkdir", name);
  }
  ASSIGN_OR_RETURN(Entry e, LookupAt(p, pfd, name));
  if (journaling()) {
    Mutation m{.op = MutationOp::kMkdir, .path = ChildPath(p, name), .ino = e.attr.st_ino,
               .mode = e.attr.st_mode, .caller = c};
    Emit(m);
  }
  return e;
}

Result<Entry> FsCore::Symlink(const Caller& c, uint64_t parent, std::string_view name,
                              std::string_view target) {
  RETURN_IF_ERROR(CheckName(name));
  if (target.size() >= PATH_MAX) return Status::FromErrno(ENAMETOOLONG, "symlink");
  EpochReadLock l(&epoch_lock_);
  Node* p = NodeOf(parent);
  ASSIGN_OR_RETURN(int pfd, NodeFd(p));
  std::string s(name), t(target);
  {
    ScopedCallerCreds creds(c);
    if (::symlinkat(t.c_str(), pfd, s.c_str()) != 0) return Errno("symlink", name);
  }
  ASSIGN_OR_RETURN(Entry e, LookupAt(p, pfd, name));
  if (journaling()) Record(MutationOp::kSymlink, ChildPath(p, name), e.attr.st_ino, c, 0, 0, 0, t);
  return e;
}

Result<Entry> FsCore::Link(const Caller& c, uint64_t node, uint64_t newparent,
                           std::string_view newname) {
  RETURN_IF_ERROR(CheckName(newname));
  EpochReadLock l(&epoch_lock_);
  Node* n = NodeOf(node);
  Node* p = NodeOf(newparent);
  ASSIGN_OR_RETURN(int nfd, NodeFd(n));
  ASSIGN_OR_RETURN(int pfd, NodeFd(p));
  std::string s(newname);
  if (::linkat(nfd, "", pfd, s.c_str(), AT_EMPTY_PATH) != 0) {
    // AT_EMPTY_PATH needs CAP_DAC_READ_SEARCH; the magic link does not.
    if (errno != ENOENT && errno != EPERM) return Errno("link", newname);
    if (::linkat(AT_FDCWD, ProcFd(nfd).c_str(), pfd, s.c_str(), AT_SYMLINK_FOLLOW) != 0) {
      return Errno("link", table_->Path(n) + " -> " + ChildPath(p, newname));
    }
  }
  std::string src = journaling() ? table_->Path(n) : std::string();
  ASSIGN_OR_RETURN(Entry e, LookupAt(p, pfd, newname));
  Record(MutationOp::kLink, ChildPath(p, newname), e.attr.st_ino, c, 0, 0, 0, src);
  return e;
}

Status FsCore::Unlink(const Caller& c, uint64_t parent, std::string_view name) {
  EpochReadLock l(&epoch_lock_);
  Node* p = NodeOf(parent);
  ASSIGN_OR_RETURN(int pfd, NodeFd(p));
  ASSIGN_OR_RETURN(Node * victim, ChildNode(p, pfd, name));
  // Holds its ref on VICTIM until the name is gone from the table.
  auto unref = [&] {
    if (victim) table_->Unref(victim);
  };
  if (victim) {
    if (Status st = ReopenHandlesOf(victim); !st.ok()) {
      unref();
      return st;
    }
  }
  std::string s(name);
  struct stat st;
  uint64_t ino = 0;
  if (sink_ && ::fstatat(pfd, s.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) ino = st.st_ino;
  if (::unlinkat(pfd, s.c_str(), 0) != 0) {
    Status err = Errno("unlink", name);
    unref();
    return err;
  }
  table_->Unlinked(p, name);
  if (victim) ReresolveAfterNameLoss(victim);
  unref();
  if (journaling()) Record(MutationOp::kUnlink, ChildPath(p, name), ino, c);
  return Status::Ok();
}

Status FsCore::Rmdir(const Caller& c, uint64_t parent, std::string_view name) {
  EpochReadLock l(&epoch_lock_);
  Node* p = NodeOf(parent);
  ASSIGN_OR_RETURN(int pfd, NodeFd(p));
  std::string s(name);
  if (::unlinkat(pfd, s.c_str(), AT_REMOVEDIR) != 0) return Errno("rmdir", name);
  table_->Unlinked(p, name);
  if (journaling()) Record(MutationOp::kRmdir, ChildPath(p, name), 0, c);
  return Status::Ok();
}

Status FsCore::Rename(const Caller& c, uint64_t parent, std::string_view name,
                      uint64_t newparent, std::string_view newname, unsigned flags) {
  RETURN_IF_ERROR(CheckName(newname));
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE)) {
    return Status::FromErrno(EINVAL, "rename flags");
  }
  EpochReadLock l(&epoch_lock_);
  Node* p = NodeOf(parent);
  Node* np = NodeOf(newparent);
  ASSIGN_OR_RETURN(int pfd, NodeFd(p));
  ASSIGN_OR_RETURN(int npfd, NodeFd(np));
  Node* victim = nullptr;  // with a ref until the rename is in the table
  auto unref = [&] {
    if (victim) table_->Unref(victim);
  };
  if (!(flags & (RENAME_NOREPLACE | RENAME_EXCHANGE))) {
    ASSIGN_OR_RETURN(victim, ChildNode(np, npfd, newname));
    if (victim) {
      if (Status st = ReopenHandlesOf(victim); !st.ok()) {
        unref();
        return st;
      }
    }
  }
  std::string s(name), ns(newname);
  std::string from = sink_ ? ChildPath(p, name) : std::string();
  // POSIX: renaming a name over another name of the same file does nothing.
  // The kernel only skips it when both names are one nodeid; the names of a
  // file linked in a sealed generation are separate nodes (the overlay's
  // lower hard links, index=off), and the overlay would do the rename: copy
  // up the source and drop the other name. Nothing is done then, and the
  // table follows what the kernel believes: the source's node under the
  // target name (its fd reopened there: one overlay inode per name), the
  // source name unknown, so that its next lookup finds it again.
  const bool no_op = flags == 0 && SameHardLinkedFile(pfd, s, npfd, ns);
  Node* moved = no_op ? table_->FindChild(p, name) : nullptr;  // with a ref
  if (!no_op && ::renameat2(pfd, s.c_str(), npfd, ns.c_str(), flags) != 0) {
    Status err = Errno("rename", name);
    unref();
    return err;
  }
  if (flags & RENAME_EXCHANGE) {
    table_->Exchanged(p, name, np, newname);
  } else {
    table_->Renamed(p, name, np, newname);
  }
  if (moved) {
    if (moved != victim) ReopenByOwnName(moved, /*key=*/false);
    table_->Unref(moved);
  }
  if (victim) ReresolveAfterNameLoss(victim);
  unref();
  if (journaling() && !no_op) {
    Mutation m{.op = MutationOp::kRename, .path = from, .path2 = ChildPath(np, newname),
               .flags = flags, .caller = c};
    Emit(m);
  }
  return Status::Ok();
}

Result<std::pair<Entry, uint64_t>> FsCore::Create(const Caller& c, uint64_t parent,
                                                  std::string_view name, mode_t mode, int flags) {
  RETURN_IF_ERROR(CheckName(name));
  EpochReadLock l(&epoch_lock_);
  Node* p = NodeOf(parent);
  ASSIGN_OR_RETURN(int pfd, NodeFd(p));
  std::string s(name);
  int bflags = (flags & ~(O_DIRECT | O_APPEND | O_NOCTTY)) | O_CREAT | O_NOFOLLOW | O_CLOEXEC;
  if ((bflags & O_ACCMODE) == O_WRONLY) bflags = (bflags & ~O_ACCMODE) | O_RDWR;
  UniqueFd fd;
  {
    ScopedCallerCreds creds(c);
    fd.reset(::openat(pfd, s.c_str(), bflags, mode));
  }
  if (!fd) return Errno("create", name);
  ASSIGN_OR_RETURN(Entry e, LookupAt(p, pfd, name));
  auto* h = new Handle();
  h->node = NodeOf(e.nodeid);
  h->flags = bflags & ~(O_CREAT | O_EXCL | O_TRUNC | O_NOFOLLOW);
  h->fd = std::make_shared<UniqueFd>(std::move(fd));
  h->epoch = epoch_.load();
  table_->Ref(h->node);
  {
    std::lock_guard<std::mutex> hl(handles_mu_);
    handles_.emplace(h->node, h);
  }
  if (sink_) sink_->OnHandleOpen(reinterpret_cast<uint64_t>(h), c);
  if (journaling()) {
    Mutation m{.op = MutationOp::kCreate, .path = ChildPath(p, name), .ino = e.attr.st_ino,
               .handle = reinterpret_cast<uint64_t>(h), .mode = e.attr.st_mode, .caller = c};
    Emit(m);
  }
  return std::make_pair(e, reinterpret_cast<uint64_t>(h));
}

}  // namespace ctrsnap::fs
