#include "fusefs/core/fs_core.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cerrno>

#include "common/log.h"
#include "fusefs/core/fs_core_internal.h"

namespace ctrsnap::fs {

Result<std::unique_ptr<FsCore>> FsCore::Create(std::unique_ptr<GenerationStack> stack,
                                               MutationSink* sink) {
  std::unique_ptr<FsCore> core(new FsCore());
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&core->epoch_lock_, &attr);
  pthread_rwlockattr_destroy(&attr);
  ASSIGN_OR_RETURN(core->epoch_root_, stack->MountLive());
  UniqueFd root(::openat(core->epoch_root_.get(), ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) return Errno("open overlay root");
  struct stat st;
  if (::fstat(root.get(), &st) != 0) return Errno("fstat overlay root");
  core->epoch_ = stack->live();
  ASSIGN_OR_RETURN(core->live_upper_, stack->OpenUpper(core->epoch_));
  core->table_ = std::make_unique<NodeTable>(std::move(root), core->epoch_, st);
  core->table_->SetKey(core->table_->root(), core->epoch_, st);
  core->stack_ = std::move(stack);
  core->sink_ = sink;
  return core;
}

FsCore::~FsCore() {
  std::lock_guard<std::mutex> l(handles_mu_);
  for (auto& [n, h] : handles_) {
    if (h->dir) ::closedir(h->dir);
    delete h;
  }
  handles_.clear();
  pthread_rwlock_destroy(&epoch_lock_);
}

void FsCore::InvalidateNames(std::vector<std::pair<Node*, std::string>>* names) {
  for (auto& [parent, name] : *names) {
    invalidate_entry_(IdOf(parent, table_->root()), name);
    table_->Unref(parent);
  }
}

size_t FsCore::ShedIdleEntries(size_t max) {
  if (!invalidate_entry_) return 0;
  auto names = table_->IdleNames(max);
  InvalidateNames(&names);
  return names.size();
}

Result<UniqueFd> FsCore::OpenByName(Node* n, struct stat* st) {
  std::string name;
  bool detached = false;
  Node* p = table_->ParentLink(n, &name, &detached);
  if (!p) return Status(Code::kNotFound, "node has no path in the current epoch", ESTALE);
  auto pfd = NodeFd(p);
  if (!pfd.ok()) {
    table_->Unref(p);
    return pfd.status();
  }
  UniqueFd fd(::openat(*pfd, name.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  table_->Unref(p);
  if (!fd) return Status::FromErrno(errno == ENOENT ? ESTALE : errno, "re-resolve", name);
  if (::fstat(fd.get(), st) != 0) return Errno("fstat", name);
  if ((st->st_mode & S_IFMT) != n->type) {
    return Status(Code::kNotFound, "re-resolve " + name + ": type changed", ESTALE);
  }
  return fd;
}

Result<int> FsCore::NodeFd(Node* n) {
  const uint64_t cur = epoch_.load();
  {
    std::lock_guard<NodeMutex> l(n->mu);
    if (n->epoch == cur) return n->fd.get();
  }
  struct stat st;
  ASSIGN_OR_RETURN(UniqueFd fd, OpenByName(n, &st));
  std::lock_guard<NodeMutex> l(n->mu);
  if (n->epoch != cur) {
    n->fd = std::move(fd);
    n->epoch = cur;
    table_->SetKey(n, cur, st);
  }
  return n->fd.get();
}

Result<int> FsCore::NodeFdOrOrphan(Node* n, bool for_write) {
  auto r = NodeFd(n);
  if (r.ok() || r.status().err() != ESTALE) return r;
  // Unlinked before a seal and still open: its fd of the old epoch is the
  // only way to it. Changing it is allowed only when no name in the old
  // (sealed) tree leads to it any more.
  std::lock_guard<NodeMutex> l(n->mu);
  struct stat st;
  if (!n->fd || ::fstat(n->fd.get(), &st) != 0) return r;
  if (for_write && st.st_nlink > 0) {
    return Status(Code::kPermissionDenied, "change of a sealed generation's file refused", EIO);
  }
  return n->fd.get();
}

Result<struct stat> FsCore::StatNode(Node* n, int fd) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return Errno("fstat");
  st.st_ino = n->stable_ino;
  return st;
}

bool FsCore::InLiveUpper(Node* parent, const std::string& name) {
  std::string path = table_->Path(parent);
  if (path.empty() || path[0] != '/') return true;  // detached: unknown, merge by identity
  // Component by component: the path may be longer than PATH_MAX.
  UniqueFd dir;
  int at = live_upper_.get();
  size_t pos = 1;
  while (pos < path.size()) {
    size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    std::string comp = path.substr(pos, next - pos);
    UniqueFd sub(::openat(at, comp.c_str(), O_PATH | O_NOFOLLOW | O_DIRECTORY | O_CLOEXEC));
    if (!sub) return false;
    dir = std::move(sub);
    at = dir.get();
    pos = next + 1;
  }
  struct stat st;
  return ::fstatat(at, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

Result<Entry> FsCore::LookupAt(Node* parent, int parent_fd, std::string_view name) {
  if (name.size() > NAME_MAX) return Status::FromErrno(ENAMETOOLONG, "lookup");
  if (name == "." || name == ".." || name.find('/') != std::string_view::npos) {
    return Status::FromErrno(EINVAL, "lookup", name);
  }
  std::string n(name);
  UniqueFd fd(::openat(parent_fd, n.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
  if (!fd) return Errno("lookup", name);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return Errno("fstat", name);
  const uint64_t cur = epoch_.load();
  // A hard-linked file that is not (yet) in the live upper is a lower file:
  // the overlay gives each of its names its own inode (see NodeTable).
  const bool name_only =
      !S_ISDIR(st.st_mode) && st.st_nlink > 1 && live_upper_ && !InLiveUpper(parent, n);
  Node* node = table_->Attach(parent, name, cur, st, fd, name_only);
  if (fd) {
    std::lock_guard<NodeMutex> l(node->mu);
    if (node->epoch != cur) {
      node->fd = std::move(fd);
      node->epoch = cur;
    }
  }
  Entry e;
  e.nodeid = IdOf(node, table_->root());
  e.attr = st;
  e.attr.st_ino = node->stable_ino;
  return e;
}

Result<Entry> FsCore::Lookup(uint64_t parent, std::string_view name) {
  EpochReadLock l(&epoch_lock_);
  Node* p = NodeOf(parent);
  ASSIGN_OR_RETURN(int pfd, NodeFd(p));
  auto r = LookupAt(p, pfd, name);
  if (!r.ok() && ProcessLogger().Enabled(LogLevel::kTrace)) {
    LogTrace("lookup " + ChildPath(p, name) + " in epoch " + std::to_string(epoch_.load()) +
             ": " + r.status().ToString());
  }
  return r;
}

void FsCore::Forget(uint64_t node, uint64_t nlookup) {
  if (node == kRootNodeId) return;
  table_->Forget(NodeOf(node), nlookup);
}

Result<struct stat> FsCore::GetAttr(uint64_t node, uint64_t fh) {
  EpochReadLock l(&epoch_lock_);
  Node* n = NodeOf(node);
  (void)fh;
  ASSIGN_OR_RETURN(int fd, NodeFdOrOrphan(n, /*for_write=*/false));
  return StatNode(n, fd);
}

Result<struct stat> FsCore::SetAttr(const Caller& c, uint64_t node, const struct stat& attr,
                                    int bits, uint64_t fh) {
  EpochReadLock l(&epoch_lock_);
  Node* n = NodeOf(node);
  auto nfd_or = NodeFdOrOrphan(n, /*for_write=*/true);
  constexpr int kTimes = kSetAtime | kSetMtime | kSetAtimeNow | kSetMtimeNow;
  const bool times_only = !(bits & ~kTimes);
  if (!nfd_or.ok() && nfd_or.status().code() == Code::kPermissionDenied && times_only) {
    // With the writeback cache the kernel sends a file's cached times after
    // each unlink of it, also of its last name. A file of a sealed generation
    // that has no name in the live tree keeps its sealed times: nothing to
    // change, and not an error (the kernel would record it against the whole
    // mount: syncfs(2) on it then fails with EIO).
    ASSIGN_OR_RETURN(int ofd, NodeFdOrOrphan(n, /*for_write=*/false));
    return StatNode(n, ofd);
  }
  if (!nfd_or.ok()) return nfd_or.status();
  const int nfd = *nfd_or;
  FdRef hfd;
  if (fh != 0) {
    ASSIGN_OR_RETURN(hfd, HandleFd(HandleOf(fh), /*for_write=*/(bits & kSetSize) != 0));
  }
  const bool is_link = n->type == S_IFLNK;
  // Never chmod or truncate through a symlink (the magic link would reach
  // the symlink's inode only, but its target must never be touched).
  if (is_link && (bits & (kSetMode | kSetSize))) {
    return Status::FromErrno(EOPNOTSUPP, "chmod/truncate of a symlink");
  }
  const std::string proc = ProcFd(nfd);
  if (bits & kSetMode) {
    int r = hfd ? ::fchmod(hfd->get(), attr.st_mode & 07777)
                : ::chmod(proc.c_str(), attr.st_mode & 07777);
    if (r != 0) return Errno("chmod", table_->Path(n));
    if (journaling()) {
      Mutation m{.op = MutationOp::kChmod, .path = table_->Path(n), .ino = n->stable_ino,
                 .mode = attr.st_mode & 07777, .caller = c};
      Emit(m);
    }
  }
  if (bits & (kSetUid | kSetGid)) {
    uid_t uid = (bits & kSetUid) ? attr.st_uid : static_cast<uid_t>(-1);
    gid_t gid = (bits & kSetGid) ? attr.st_gid : static_cast<gid_t>(-1);
    int r = hfd ? ::fchown(hfd->get(), uid, gid)
                : ::fchownat(nfd, "", uid, gid, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW);
    if (r != 0) {
      return Errno("chown", table_->Path(n));
    }
    if (journaling()) {
      Mutation m{.op = MutationOp::kChown, .path = table_->Path(n), .ino = n->stable_ino,
                 .owner_uid = static_cast<uint32_t>(uid), .owner_gid = static_cast<uint32_t>(gid),
                 .caller = c};
      Emit(m);
    }
  }
  if (bits & kSetSize) {
    int r;
    if (hfd) {
      r = ::ftruncate(hfd->get(), attr.st_size);
    } else {
      UniqueFd wfd(::open(proc.c_str(), O_WRONLY | O_CLOEXEC));
      r = wfd ? ::ftruncate(wfd.get(), attr.st_size) : -1;
    }
    if (r != 0) return Errno("truncate", table_->Path(n));
    RecordNode(MutationOp::kTruncate, n, c, 0, static_cast<uint64_t>(attr.st_size), fh);
  }
  if (bits & kTimes) {
    struct timespec tv[2];
    tv[0].tv_sec = 0;
    tv[0].tv_nsec = UTIME_OMIT;
    tv[1] = tv[0];
    if (bits & kSetAtimeNow) tv[0].tv_nsec = UTIME_NOW;
    else if (bits & kSetAtime) tv[0] = attr.st_atim;
    if (bits & kSetMtimeNow) tv[1].tv_nsec = UTIME_NOW;
    else if (bits & kSetMtime) tv[1] = attr.st_mtim;
    int r;
    if (hfd) {
      r = ::futimens(hfd->get(), tv);
    } else if (is_link) {
      r = ::utimensat(nfd, "", tv, AT_EMPTY_PATH);
    } else {
      r = ::utimensat(AT_FDCWD, proc.c_str(), tv, 0);
    }
    if (r != 0) {
      // The kernel's writeback sends the times of a file after its last
      // close, also when it has been unlinked meanwhile. An unlinked file
      // from a lower layer cannot be copied up any more (its name is a
      // whiteout: EEXIST), and its times are kept nowhere: not an error.
      const bool orphan = (errno == EEXIST || errno == ENOENT) && !hfd && times_only &&
                          table_->Path(n).starts_with("?");
      if (!orphan) return Errno("utimens", table_->Path(n));
    }
    RecordNode(MutationOp::kUtimes, n, c);
  }
  return StatNode(n, nfd);
}

Result<std::string> FsCore::ReadLink(uint64_t node) {
  EpochReadLock l(&epoch_lock_);
  ASSIGN_OR_RETURN(int fd, NodeFd(NodeOf(node)));
  char buf[PATH_MAX + 1];
  ssize_t n = ::readlinkat(fd, "", buf, sizeof(buf));
  if (n < 0) return Errno("readlink");
  if (static_cast<size_t>(n) >= sizeof(buf)) return Status::FromErrno(ENAMETOOLONG, "readlink");
  return std::string(buf, static_cast<size_t>(n));
}

Result<struct statvfs> FsCore::StatFs() {
  EpochReadLock l(&epoch_lock_);
  struct statvfs sv;
  if (::fstatvfs(epoch_root_.get(), &sv) != 0) return Errno("statfs");
  return sv;
}

Status FsCore::SetXattr(const Caller& c, uint64_t node, const std::string& name,
                        std::string_view value, int flags) {
  EpochReadLock l(&epoch_lock_);
  Node* n = NodeOf(node);
  if (n->type == S_IFLNK) return Status::FromErrno(EPERM, "setxattr on symlink");
  ASSIGN_OR_RETURN(int fd, NodeFd(n));
  if (::setxattr(ProcFd(fd).c_str(), name.c_str(), value.data(), value.size(), flags) != 0) {
    return Errno("setxattr", name);
  }
  if (journaling()) {
    Mutation m{.op = MutationOp::kSetxattr, .path = table_->Path(n), .ino = n->stable_ino,
               .length = value.size(), .flags = static_cast<uint32_t>(flags), .name = name,
               .caller = c};
    Emit(m);
  }
  return Status::Ok();
}

Result<std::string> FsCore::GetXattr(uint64_t node, const std::string& name, size_t size,
                                     size_t* needed) {
  EpochReadLock l(&epoch_lock_);
  Node* n = NodeOf(node);
  if (n->type == S_IFLNK) return Status::FromErrno(ENODATA, "getxattr on symlink");
  ASSIGN_OR_RETURN(int fd, NodeFd(n));
  std::string buf(size, '\0');
  ssize_t r = ::getxattr(ProcFd(fd).c_str(), name.c_str(), size ? buf.data() : nullptr, size);
  if (r < 0) return Errno("getxattr", name);
  *needed = static_cast<size_t>(r);
  buf.resize(size ? static_cast<size_t>(r) : 0);
  return buf;
}

Result<std::string> FsCore::ListXattr(uint64_t node, size_t size, size_t* needed) {
  EpochReadLock l(&epoch_lock_);
  Node* n = NodeOf(node);
  if (n->type == S_IFLNK) {
    *needed = 0;
    return std::string();
  }
  ASSIGN_OR_RETURN(int fd, NodeFd(n));
  std::string buf(size, '\0');
  ssize_t r = ::listxattr(ProcFd(fd).c_str(), size ? buf.data() : nullptr, size);
  if (r < 0) return Errno("listxattr");
  *needed = static_cast<size_t>(r);
  buf.resize(size ? static_cast<size_t>(r) : 0);
  return buf;
}

Status FsCore::RemoveXattr(const Caller& c, uint64_t node, const std::string& name) {
  EpochReadLock l(&epoch_lock_);
  Node* n = NodeOf(node);
  if (n->type == S_IFLNK) return Status::FromErrno(EPERM, "removexattr on symlink");
  ASSIGN_OR_RETURN(int fd, NodeFd(n));
  if (::removexattr(ProcFd(fd).c_str(), name.c_str()) != 0) return Errno("removexattr", name);
  if (journaling()) {
    Mutation m{.op = MutationOp::kRemovexattr, .path = table_->Path(n), .ino = n->stable_ino,
               .name = name, .caller = c};
    Emit(m);
  }
  return Status::Ok();
}

std::string FsCore::ChildPath(Node* parent, std::string_view name) {
  std::string p = table_->Path(parent);
  if (p != "/") p += '/';
  p.append(name);
  return p;
}

void FsCore::Record(MutationOp op, std::string path, uint64_t ino, const Caller& c, uint64_t off,
                    uint64_t len, uint64_t fh, std::string path2) {
  if (!sink_) return;
  Mutation m;
  m.op = op;
  m.path = std::move(path);
  m.path2 = std::move(path2);
  m.ino = ino;
  m.offset = off;
  m.length = len;
  m.handle = fh;
  m.caller = c;
  Emit(m);
}

void FsCore::Emit(Mutation& m) {
  if (!sink_) return;
  m.generation = epoch_.load();
  sink_->Record(m);
}

void FsCore::RecordNode(MutationOp op, Node* n, const Caller& c, uint64_t off, uint64_t len,
                        uint64_t fh) {
  if (!sink_) return;
  Record(op, table_->Path(n), n->stable_ino, c, off, len, fh);
}

}  // namespace ctrsnap::fs
