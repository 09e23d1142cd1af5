// FsCore: open files and directory streams.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "fusefs/core/fs_core.h"
#include "fusefs/core/fs_core_internal.h"

namespace ctrsnap::fs {
namespace {

// Backing flags for a kernel open: with the writeback cache the kernel may
// read through a write-only handle and sends explicit offsets (no O_APPEND);
// O_DIRECT is stripped because request buffers are not aligned.
int BackingFlags(int flags) {
  int b = (flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_DIRECT | O_APPEND)) | O_CLOEXEC;
  if ((b & O_ACCMODE) == O_WRONLY) b = (b & ~O_ACCMODE) | O_RDWR;
  return b;
}

}  // namespace

Result<FdRef> FsCore::HandleFd(Handle* h, bool for_write) {
  std::lock_guard<std::mutex> l(h->mu);
  const uint64_t cur = epoch_.load();
  if (h->epoch == cur) return h->fd;
  if (!h->pinned) {
    auto nfd = NodeFd(h->node);
    if (nfd.ok()) {
      UniqueFd fd;
      if (h->is_dir) {
        fd.reset(::openat(*nfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
      } else {
        fd.reset(::open(ProcFd(*nfd).c_str(), h->flags));
      }
      if (!fd) return Errno("reopen in new epoch");
      if (h->is_dir) {
        DIR* d = ::fdopendir(fd.get());
        if (!d) return Errno("fdopendir");
        (void)fd.release();
        if (h->dir) ::closedir(h->dir);
        h->dir = d;
        if (h->dir_offset > 0) ::seekdir(h->dir, h->dir_offset);
        h->fd = std::make_shared<UniqueFd>(::dup(::dirfd(d)));
      } else {
        h->fd = std::make_shared<UniqueFd>(std::move(fd));
      }
      h->epoch = cur;
      return h->fd;
    }
    if (nfd.status().err() != ESTALE) return nfd.status();
    h->pinned = true;  // unlinked before the seal: an orphan of the old epoch
  }
  if (for_write) {
    struct stat st;
    if (::fstat(h->fd->get(), &st) != 0) return Errno("fstat");
    if (st.st_nlink > 0) {
      // Still linked in the old epoch under a name we lost: writing would
      // change a sealed generation.
      return Status(Code::kPermissionDenied,
                    "write through a handle of a sealed generation refused", EIO);
    }
  }
  return h->fd;
}

Result<uint64_t> FsCore::Open(const Caller& c, uint64_t node, int flags) {
  EpochReadLock l(&epoch_lock_);
  Node* n = NodeOf(node);
  ASSIGN_OR_RETURN(int nfd, NodeFd(n));
  int bflags = BackingFlags(flags);
  UniqueFd fd(::open(ProcFd(nfd).c_str(), bflags));
  if (!fd) return Errno("open");
  auto* h = new Handle();
  h->node = n;
  h->flags = bflags & ~O_TRUNC;
  h->fd = std::make_shared<UniqueFd>(std::move(fd));
  h->epoch = epoch_.load();
  table_->Ref(n);
  {
    std::lock_guard<std::mutex> hl(handles_mu_);
    handles_.emplace(n, h);
  }
  if (flags & O_TRUNC) RecordNode(MutationOp::kTruncate, n, c, 0, 0, reinterpret_cast<uint64_t>(h));
  return reinterpret_cast<uint64_t>(h);
}

Result<FdRef> FsCore::ReadFd(uint64_t fh) {
  EpochReadLock l(&epoch_lock_);
  return HandleFd(HandleOf(fh), /*for_write=*/false);
}

Result<size_t> FsCore::Write(const Caller& c, uint64_t fh, off_t off,
                             const std::function<ssize_t(int fd)>& writer) {
  EpochReadLock l(&epoch_lock_);
  Handle* h = HandleOf(fh);
  ASSIGN_OR_RETURN(FdRef fd, HandleFd(h, /*for_write=*/true));
  ssize_t n = writer(fd->get());
  if (n < 0) return Status::FromErrno(static_cast<int>(-n), "write");
  RecordNode(MutationOp::kWrite, h->node, c, static_cast<uint64_t>(off), static_cast<uint64_t>(n),
             fh);
  return static_cast<size_t>(n);
}

Status FsCore::Flush(uint64_t fh) {
  if (sink_) sink_->OnHandleFlush(fh);
  return Status::Ok();
}

void FsCore::Release(uint64_t fh) {
  Handle* h = HandleOf(fh);
  if (sink_ && !h->is_dir) sink_->OnHandleRelease(fh);
  {
    std::lock_guard<std::mutex> l(handles_mu_);
    auto [b, e] = handles_.equal_range(h->node);
    for (auto it = b; it != e; ++it) {
      if (it->second == h) {
        handles_.erase(it);
        break;
      }
    }
  }
  if (h->dir) ::closedir(h->dir);
  table_->Unref(h->node);
  delete h;
}

Status FsCore::Fsync(uint64_t fh, bool datasync) {
  EpochReadLock l(&epoch_lock_);
  ASSIGN_OR_RETURN(FdRef fd, HandleFd(HandleOf(fh), /*for_write=*/false));
  int r = datasync ? ::fdatasync(fd->get()) : ::fsync(fd->get());
  if (r != 0) return Errno("fsync");
  return Status::Ok();
}

Status FsCore::Fallocate(const Caller& c, uint64_t fh, int mode, off_t off, off_t len) {
  EpochReadLock l(&epoch_lock_);
  Handle* h = HandleOf(fh);
  ASSIGN_OR_RETURN(FdRef fd, HandleFd(h, /*for_write=*/true));
  if (::fallocate(fd->get(), mode, off, len) != 0) return Errno("fallocate");
  if (journaling()) {
    Mutation m{.op = MutationOp::kFallocate, .path = table_->Path(h->node),
               .ino = h->node->stable_ino, .offset = static_cast<uint64_t>(off),
               .length = static_cast<uint64_t>(len), .handle = fh,
               .flags = static_cast<uint32_t>(mode), .caller = c};
    Emit(m);
  }
  return Status::Ok();
}

Result<size_t> FsCore::CopyFileRange(const Caller& c, uint64_t fh_in, off_t off_in,
                                     uint64_t fh_out, off_t off_out, size_t len,
                                     unsigned flags) {
  EpochReadLock l(&epoch_lock_);
  ASSIGN_OR_RETURN(FdRef in, HandleFd(HandleOf(fh_in), /*for_write=*/false));
  Handle* out_h = HandleOf(fh_out);
  ASSIGN_OR_RETURN(FdRef out, HandleFd(out_h, /*for_write=*/true));
  loff_t oi = off_in, oo = off_out;
  ssize_t n = ::copy_file_range(in->get(), &oi, out->get(), &oo, len, flags);
  if (n < 0) return Errno("copy_file_range");
  if (journaling()) {
    Mutation m{.op = MutationOp::kCopyFileRange, .path = table_->Path(out_h->node),
               .path2 = table_->Path(HandleOf(fh_in)->node), .ino = out_h->node->stable_ino,
               .offset = static_cast<uint64_t>(off_out), .length = static_cast<uint64_t>(n),
               .handle = fh_out, .caller = c};
    Emit(m);
  }
  return static_cast<size_t>(n);
}

Result<off_t> FsCore::Lseek(uint64_t fh, off_t off, int whence) {
  EpochReadLock l(&epoch_lock_);
  ASSIGN_OR_RETURN(FdRef fd, HandleFd(HandleOf(fh), /*for_write=*/false));
  off_t r = ::lseek(fd->get(), off, whence);
  if (r < 0) return Errno("lseek");
  return r;
}

Result<uint64_t> FsCore::OpenDir(uint64_t node) {
  EpochReadLock l(&epoch_lock_);
  Node* n = NodeOf(node);
  ASSIGN_OR_RETURN(int nfd, NodeFd(n));
  UniqueFd fd(::openat(nfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Errno("opendir");
  UniqueFd dup_fd(::dup(fd.get()));
  DIR* d = ::fdopendir(fd.get());
  if (!d) return Errno("fdopendir");
  (void)fd.release();
  auto* h = new Handle();
  h->node = n;
  h->is_dir = true;
  h->dir = d;
  h->fd = std::make_shared<UniqueFd>(std::move(dup_fd));
  h->epoch = epoch_.load();
  table_->Ref(n);
  {
    std::lock_guard<std::mutex> hl(handles_mu_);
    handles_.emplace(n, h);
  }
  return reinterpret_cast<uint64_t>(h);
}

Status FsCore::ReadDir(uint64_t fh, off_t offset, bool plus,
                       const std::function<bool(const DirEntry&)>& emit) {
  EpochReadLock l(&epoch_lock_);
  Handle* h = HandleOf(fh);
  if (h->epoch != epoch_.load()) {
    h->dir_offset = offset;
    ASSIGN_OR_RETURN(FdRef unused, HandleFd(h, false));
    (void)unused;
  }
  std::lock_guard<std::mutex> hl(h->mu);
  if (offset != h->dir_offset) {
    ::seekdir(h->dir, offset);
    h->dir_offset = offset;
  }
  int pfd = -1;
  if (plus) {
    ASSIGN_OR_RETURN(pfd, NodeFd(h->node));
  }
  for (;;) {
    errno = 0;
    struct dirent* d = ::readdir(h->dir);
    if (!d) {
      if (errno != 0) return Errno("readdir");
      break;
    }
    DirEntry de;
    de.name = d->d_name;
    de.attr.st_ino = d->d_ino;
    de.attr.st_mode = DTTOIF(d->d_type);
    de.next_offset = d->d_off;
    bool dots = de.name == "." || de.name == "..";
    Entry e;
    bool looked_up = false;
    if (plus && !dots) {
      auto r = LookupAt(h->node, pfd, de.name);
      if (!r.ok()) continue;  // removed meanwhile
      e = *r;
      de.entry = &e;
      de.attr = e.attr;
      looked_up = true;
    }
    if (!emit(de)) {
      if (looked_up) Forget(e.nodeid, 1);
      h->dir_offset = -1;  // the stream moved past an entry the kernel did not get
      break;
    }
    h->dir_offset = de.next_offset;
  }
  return Status::Ok();
}

void FsCore::ReleaseDir(uint64_t fh) { Release(fh); }

Status FsCore::FsyncDir(uint64_t fh, bool datasync) {
  EpochReadLock l(&epoch_lock_);
  ASSIGN_OR_RETURN(FdRef fd, HandleFd(HandleOf(fh), /*for_write=*/false));
  int r = datasync ? ::fdatasync(fd->get()) : ::fsync(fd->get());
  if (r != 0) return Errno("fsyncdir");
  return Status::Ok();
}

}  // namespace ctrsnap::fs
