#include "fusefs/fuse/fuse_adapter.h"

#include <fcntl.h>
#include <sys/xattr.h>

#include <atomic>
#include <cerrno>
#include <ctime>
#include <cstring>
#include <string>
#include <vector>

#include "common/log.h"
#include "fusefs/core/fs_core.h"

namespace ctrsnap::fs {
namespace {

FuseContext* Ctx(fuse_req_t req) { return static_cast<FuseContext*>(fuse_req_userdata(req)); }
FsCore& Core(fuse_req_t req) { return *Ctx(req)->core; }

Caller CallerOf(fuse_req_t req) {
  const fuse_ctx* c = fuse_req_ctx(req);
  return Caller{c->uid, c->gid, c->pid, c->umask};
}

// EIO, ESTALE and EXDEV never come from a healthy overlay for a request the
// kernel let through: they are ctrsnap-fs's own refusals or failures, and the
// reason (operation, path, errno) would otherwise be lost in one errno.
// Other failures (but the everyday ENOENT and ENODATA) at log_level=debug,
// those too at log_level=trace.
// At most kMaxFailureLogsPerMinute such lines a minute: the container can
// provoke them at will and must not fill the disk with the daemon's log.
constexpr int kMaxFailureLogsPerMinute = 100;

bool FailureLogAllowed() {
  static std::atomic<int64_t> window{0};
  static std::atomic<int> count{0};
  const int64_t minute = ::time(nullptr) / 60;
  int64_t w = window.load(std::memory_order_relaxed);
  if (w != minute && window.compare_exchange_strong(w, minute)) count.store(0);
  return count.fetch_add(1, std::memory_order_relaxed) < kMaxFailureLogsPerMinute;
}

int Err(const Status& st) {
  const int e = st.err() ? st.err() : EIO;
  if ((e == EIO || e == ESTALE || e == EXDEV) && FailureLogAllowed()) {
    LogWarn("request failed: " + st.ToString());
  } else if (e != ENOENT && e != ENODATA && ProcessLogger().Enabled(LogLevel::kDebug)) {
    LogDebug("request failed: " + st.ToString());
  } else if (ProcessLogger().Enabled(LogLevel::kTrace)) {
    LogTrace("request failed: " + st.ToString());
  }
  return e;
}

void ReplyEntry(fuse_req_t req, const Result<Entry>& r) {
  if (!r.ok()) {
    fuse_reply_err(req, Err(r.status()));
    return;
  }
  fuse_entry_param e = {};
  e.ino = r->nodeid;
  e.attr = r->attr;
  e.attr_timeout = Ctx(req)->options.timeout_s;
  e.entry_timeout = Ctx(req)->options.timeout_s;
  fuse_reply_entry(req, &e);
}

void ReplyStatus(fuse_req_t req, const Status& st) { fuse_reply_err(req, st.ok() ? 0 : Err(st)); }

void Init(void* userdata, fuse_conn_info* conn) {
  auto* ctx = static_cast<FuseContext*>(userdata);
  auto want = [&](unsigned cap) {
    if (conn->capable & cap) conn->want |= cap;
  };
  if (ctx->options.writeback_cache) want(FUSE_CAP_WRITEBACK_CACHE);
  want(FUSE_CAP_SPLICE_WRITE);
  // No FUSE_CAP_SPLICE_READ: reading small requests through a pipe costs more
  // system calls than it saves (stat ran at half the rate with it).
  conn->want &= ~FUSE_CAP_SPLICE_READ;
  want(FUSE_CAP_READDIRPLUS);
  want(FUSE_CAP_READDIRPLUS_AUTO);
  want(FUSE_CAP_PARALLEL_DIROPS);
  want(FUSE_CAP_ATOMIC_O_TRUNC);
  want(FUSE_CAP_CACHE_SYMLINKS);
  want(FUSE_CAP_POSIX_ACL);
  want(FUSE_CAP_DONT_MASK);  // the umask is applied per request thread (creds.h)
  want(FUSE_CAP_ASYNC_DIO);
  // Locks are kept by the kernel: every process using the files is on this mount.
  conn->want &= ~(FUSE_CAP_FLOCK_LOCKS | FUSE_CAP_POSIX_LOCKS);
  conn->max_write = 1u << 20;
  conn->max_readahead = 1u << 20;
  conn->time_gran = 1;
}

void Lookup(fuse_req_t req, fuse_ino_t parent, const char* name) {
  auto r = Core(req).Lookup(parent, name);
  if (!r.ok() && r.status().err() == ENOENT) {
    fuse_entry_param e = {};  // negative entry, cached: creations go through us
    e.entry_timeout = Ctx(req)->options.timeout_s;
    fuse_reply_entry(req, &e);
    return;
  }
  ReplyEntry(req, r);
}

void Forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup) {
  Core(req).Forget(ino, nlookup);
  fuse_reply_none(req);
}

void ForgetMulti(fuse_req_t req, size_t count, fuse_forget_data* forgets) {
  for (size_t i = 0; i < count; ++i) Core(req).Forget(forgets[i].ino, forgets[i].nlookup);
  fuse_reply_none(req);
}

void GetAttr(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  auto r = Core(req).GetAttr(ino, fi ? fi->fh : 0);
  if (!r.ok()) return (void)fuse_reply_err(req, Err(r.status()));
  fuse_reply_attr(req, &*r, Ctx(req)->options.timeout_s);
}

void SetAttr(fuse_req_t req, fuse_ino_t ino, struct stat* attr, int to_set, fuse_file_info* fi) {
  int bits = 0;
  if (to_set & FUSE_SET_ATTR_MODE) bits |= kSetMode;
  if (to_set & FUSE_SET_ATTR_UID) bits |= kSetUid;
  if (to_set & FUSE_SET_ATTR_GID) bits |= kSetGid;
  if (to_set & FUSE_SET_ATTR_SIZE) bits |= kSetSize;
  if (to_set & FUSE_SET_ATTR_ATIME) bits |= kSetAtime;
  if (to_set & FUSE_SET_ATTR_MTIME) bits |= kSetMtime;
  if (to_set & FUSE_SET_ATTR_ATIME_NOW) bits |= kSetAtimeNow;
  if (to_set & FUSE_SET_ATTR_MTIME_NOW) bits |= kSetMtimeNow;
  auto r = Core(req).SetAttr(CallerOf(req), ino, *attr, bits, fi ? fi->fh : 0);
  if (!r.ok()) return (void)fuse_reply_err(req, Err(r.status()));
  fuse_reply_attr(req, &*r, Ctx(req)->options.timeout_s);
}

void ReadLink(fuse_req_t req, fuse_ino_t ino) {
  auto r = Core(req).ReadLink(ino);
  if (!r.ok()) return (void)fuse_reply_err(req, Err(r.status()));
  fuse_reply_readlink(req, r->c_str());
}

void Mknod(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode, dev_t rdev) {
  ReplyEntry(req, Core(req).Mknod(CallerOf(req), parent, name, mode, rdev));
}

void Mkdir(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode) {
  ReplyEntry(req, Core(req).Mkdir(CallerOf(req), parent, name, mode));
}

void Symlink(fuse_req_t req, const char* link, fuse_ino_t parent, const char* name) {
  ReplyEntry(req, Core(req).Symlink(CallerOf(req), parent, name, link));
}

void Link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t parent, const char* name) {
  ReplyEntry(req, Core(req).Link(CallerOf(req), ino, parent, name));
}

void Unlink(fuse_req_t req, fuse_ino_t parent, const char* name) {
  ReplyStatus(req, Core(req).Unlink(CallerOf(req), parent, name));
}

void Rmdir(fuse_req_t req, fuse_ino_t parent, const char* name) {
  ReplyStatus(req, Core(req).Rmdir(CallerOf(req), parent, name));
}

void Rename(fuse_req_t req, fuse_ino_t parent, const char* name, fuse_ino_t newparent,
            const char* newname, unsigned flags) {
  ReplyStatus(req, Core(req).Rename(CallerOf(req), parent, name, newparent, newname, flags));
}

void Open(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  auto r = Core(req).Open(CallerOf(req), ino, fi->flags);
  if (!r.ok()) return (void)fuse_reply_err(req, Err(r.status()));
  fi->fh = *r;
  fi->keep_cache = 1;  // the page cache stays valid: nobody writes behind our back
  fuse_reply_open(req, fi);
}

void Create(fuse_req_t req, fuse_ino_t parent, const char* name, mode_t mode,
            fuse_file_info* fi) {
  auto r = Core(req).Create(CallerOf(req), parent, name, mode, fi->flags);
  if (!r.ok()) return (void)fuse_reply_err(req, Err(r.status()));
  fi->fh = r->second;
  fi->keep_cache = 1;
  fuse_entry_param e = {};
  e.ino = r->first.nodeid;
  e.attr = r->first.attr;
  e.attr_timeout = e.entry_timeout = Ctx(req)->options.timeout_s;
  fuse_reply_create(req, &e, fi);
}

void Read(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  auto fd = Core(req).ReadFd(fi->fh);
  if (!fd.ok()) return (void)fuse_reply_err(req, Err(fd.status()));
  fuse_bufvec buf = FUSE_BUFVEC_INIT(size);
  buf.buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
  buf.buf[0].fd = (*fd)->get();
  buf.buf[0].pos = off;
  fuse_reply_data(req, &buf, FUSE_BUF_SPLICE_MOVE);
}

void WriteBuf(fuse_req_t req, fuse_ino_t, fuse_bufvec* in, off_t off, fuse_file_info* fi) {
  auto r = Core(req).Write(CallerOf(req), fi->fh, off, [&](int fd) -> ssize_t {
    fuse_bufvec out = FUSE_BUFVEC_INIT(fuse_buf_size(in));
    out.buf[0].flags = static_cast<fuse_buf_flags>(FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK);
    out.buf[0].fd = fd;
    out.buf[0].pos = off;
    return fuse_buf_copy(&out, in, static_cast<fuse_buf_copy_flags>(0));
  });
  if (!r.ok()) return (void)fuse_reply_err(req, Err(r.status()));
  fuse_reply_write(req, *r);
}

void Flush(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  ReplyStatus(req, Core(req).Flush(fi->fh));
}

void Release(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  Core(req).Release(fi->fh);
  fuse_reply_err(req, 0);
}

void Fsync(fuse_req_t req, fuse_ino_t, int datasync, fuse_file_info* fi) {
  ReplyStatus(req, Core(req).Fsync(fi->fh, datasync != 0));
}

void OpenDir(fuse_req_t req, fuse_ino_t ino, fuse_file_info* fi) {
  auto r = Core(req).OpenDir(ino);
  if (!r.ok()) return (void)fuse_reply_err(req, Err(r.status()));
  fi->fh = *r;
  fi->keep_cache = 1;
  fi->cache_readdir = 1;
  fuse_reply_open(req, fi);
}

void DoReadDir(fuse_req_t req, size_t size, off_t off, fuse_file_info* fi, bool plus) {
  std::vector<char> buf(size);
  size_t used = 0;
  Status st = Core(req).ReadDir(fi->fh, off, plus, [&](const DirEntry& d) {
    std::string name(d.name);
    size_t n;
    if (plus) {
      fuse_entry_param e = {};
      e.attr = d.attr;
      if (d.entry) {
        e.ino = d.entry->nodeid;
        e.attr_timeout = e.entry_timeout = Ctx(req)->options.timeout_s;
      }
      n = fuse_add_direntry_plus(req, buf.data() + used, size - used, name.c_str(), &e,
                                 d.next_offset);
    } else {
      n = fuse_add_direntry(req, buf.data() + used, size - used, name.c_str(), &d.attr,
                            d.next_offset);
    }
    if (n > size - used) return false;
    used += n;
    return true;
  });
  if (!st.ok() && used == 0) return (void)fuse_reply_err(req, Err(st));
  fuse_reply_buf(req, buf.data(), used);
}

void ReadDir(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  DoReadDir(req, size, off, fi, false);
}
void ReadDirPlus(fuse_req_t req, fuse_ino_t, size_t size, off_t off, fuse_file_info* fi) {
  DoReadDir(req, size, off, fi, true);
}

void ReleaseDir(fuse_req_t req, fuse_ino_t, fuse_file_info* fi) {
  Core(req).ReleaseDir(fi->fh);
  fuse_reply_err(req, 0);
}

void FsyncDir(fuse_req_t req, fuse_ino_t, int datasync, fuse_file_info* fi) {
  ReplyStatus(req, Core(req).FsyncDir(fi->fh, datasync != 0));
}

void StatFs(fuse_req_t req, fuse_ino_t) {
  auto r = Core(req).StatFs();
  if (!r.ok()) return (void)fuse_reply_err(req, Err(r.status()));
  fuse_reply_statfs(req, &*r);
}

void SetXattr(fuse_req_t req, fuse_ino_t ino, const char* name, const char* value, size_t size,
              int flags) {
  ReplyStatus(req, Core(req).SetXattr(CallerOf(req), ino, name, std::string_view(value, size),
                                      flags));
}

void GetXattr(fuse_req_t req, fuse_ino_t ino, const char* name, size_t size) {
  size_t needed = 0;
  auto r = Core(req).GetXattr(ino, name, size, &needed);
  if (!r.ok()) return (void)fuse_reply_err(req, Err(r.status()));
  if (size == 0) return (void)fuse_reply_xattr(req, needed);
  fuse_reply_buf(req, r->data(), r->size());
}

void ListXattr(fuse_req_t req, fuse_ino_t ino, size_t size) {
  size_t needed = 0;
  auto r = Core(req).ListXattr(ino, size, &needed);
  if (!r.ok()) return (void)fuse_reply_err(req, Err(r.status()));
  if (size == 0) return (void)fuse_reply_xattr(req, needed);
  fuse_reply_buf(req, r->data(), r->size());
}

void RemoveXattr(fuse_req_t req, fuse_ino_t ino, const char* name) {
  ReplyStatus(req, Core(req).RemoveXattr(CallerOf(req), ino, name));
}

void Fallocate(fuse_req_t req, fuse_ino_t, int mode, off_t off, off_t len, fuse_file_info* fi) {
  ReplyStatus(req, Core(req).Fallocate(CallerOf(req), fi->fh, mode, off, len));
}

void CopyFileRange(fuse_req_t req, fuse_ino_t, off_t off_in, fuse_file_info* fi_in, fuse_ino_t,
                   off_t off_out, fuse_file_info* fi_out, size_t len, int flags) {
  auto r = Core(req).CopyFileRange(CallerOf(req), fi_in->fh, off_in, fi_out->fh, off_out, len,
                                   static_cast<unsigned>(flags));
  if (!r.ok()) return (void)fuse_reply_err(req, Err(r.status()));
  fuse_reply_write(req, *r);
}

void Lseek(fuse_req_t req, fuse_ino_t, off_t off, int whence, fuse_file_info* fi) {
  auto r = Core(req).Lseek(fi->fh, off, whence);
  if (!r.ok()) return (void)fuse_reply_err(req, Err(r.status()));
  fuse_reply_lseek(req, *r);
}

fuse_lowlevel_ops MakeOps() {
  fuse_lowlevel_ops ops = {};
  ops.init = Init;
  ops.lookup = Lookup;
  ops.forget = Forget;
  ops.forget_multi = ForgetMulti;
  ops.getattr = GetAttr;
  ops.setattr = SetAttr;
  ops.readlink = ReadLink;
  ops.mknod = Mknod;
  ops.mkdir = Mkdir;
  ops.symlink = Symlink;
  ops.link = Link;
  ops.unlink = Unlink;
  ops.rmdir = Rmdir;
  ops.rename = Rename;
  ops.open = Open;
  ops.create = Create;
  ops.read = Read;
  ops.write_buf = WriteBuf;
  ops.flush = Flush;
  ops.release = Release;
  ops.fsync = Fsync;
  ops.opendir = OpenDir;
  ops.readdir = ReadDir;
  ops.readdirplus = ReadDirPlus;
  ops.releasedir = ReleaseDir;
  ops.fsyncdir = FsyncDir;
  ops.statfs = StatFs;
  ops.setxattr = SetXattr;
  ops.getxattr = GetXattr;
  ops.listxattr = ListXattr;
  ops.removexattr = RemoveXattr;
  ops.fallocate = Fallocate;
  ops.copy_file_range = CopyFileRange;
  ops.lseek = Lseek;
  return ops;
}

}  // namespace

const fuse_lowlevel_ops& FuseOperations() {
  static const fuse_lowlevel_ops kOps = MakeOps();
  return kOps;
}

}  // namespace ctrsnap::fs
