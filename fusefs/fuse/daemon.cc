#include "fusefs/fuse/daemon.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/file_util.h"
#include "common/log.h"
#include "common/state_layout.h"
#include "fusefs/control/control_server.h"
#include "fusefs/core/fs_core.h"
#include "fusefs/fuse/fs_control_handler.h"
#include "fusefs/fuse/fuse_adapter.h"
#include "fusefs/fuse/journal_sink.h"
#include "fusefs/fuse/request_loop.h"
#include "fusefs/fuse/sandbox.h"

namespace ctrsnap::fs {
namespace {

#ifndef FUSE_SUPER_MAGIC
#define FUSE_SUPER_MAGIC 0x65735546
#endif

void Notify(int& fd, const std::string& msg) {
  if (fd < 0) return;
  (void)WriteAll(fd, msg);
  ::close(fd);
  fd = -1;
}

int64_t UnixNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status InitLogging(const FsOptions& o) {
  LogOptions lo;
  auto level = ParseLogLevel(o.debug ? "debug" : o.log_level);
  if (!level.ok()) return level.status();
  lo.level = *level;
  if (o.generations()) {
    RETURN_IF_ERROR(MakeDirs(o.state, 0700));
    lo.path = layout::DaemonLogPath(o.state);
  }
  ASSIGN_OR_RETURN(Logger logger, Logger::Open(lo));
  InitProcessLogger(std::move(logger));
  return Status::Ok();
}

// Everything the daemon owns, destroyed in reverse order of construction.
struct Daemon {
  std::unique_ptr<ChangeJournal> journal;
  std::unique_ptr<JournalSink> sink;
  std::unique_ptr<FsCore> core;
  FuseContext fuse_ctx;
  std::unique_ptr<FsControlHandler> handler;
  std::unique_ptr<ControlServer> control;
  fuse_session* session = nullptr;
  bool mounted = false;
  bool signals = false;
  std::string mountpoint;
  std::thread shedder;
  // The shedder's sleep ends at once when the daemon stops: `delete` of a
  // container waits for the daemon's exit (it was up to 200 ms more).
  std::mutex stop_mu;
  std::condition_variable stop_cv;
  bool stopping = false;  // (stop_mu)

  ~Daemon() {
    {
      std::lock_guard<std::mutex> l(stop_mu);
      stopping = true;
    }
    stop_cv.notify_all();
    if (shedder.joinable()) shedder.join();
    if (control) control->Stop();
    if (session) {
      if (signals) fuse_remove_signal_handlers(session);
      if (mounted) fuse_session_unmount(session);
      fuse_session_destroy(session);
    }
  }

  // Each inode the kernel caches holds an O_PATH descriptor here. Past 3/4
  // of RLIMIT_NOFILE the kernel is asked to drop idle cached names until
  // about half is left (it then forgets their inodes), so that a tree larger
  // than the limit (a million entries; 20000 where the limit cannot be
  // raised) gives no EMFILE.
  // FD_LIMIT: RLIMIT_NOFILE's soft limit, read before seccomp is on.
  void ShedUnderDescriptorPressure(size_t fd_limit) {
    const size_t high = fd_limit / 4 * 3, low = fd_limit / 2;
    for (;;) {
      const size_t n = core->node_count();
      if (n > high) {
        size_t sent = core->ShedIdleEntries(n - low);
        LogDebug("descriptor pressure: " + std::to_string(n) + " nodes, asked the kernel to drop " +
                 std::to_string(sent) + " names");
      }
      core->CloseRetiredFds();
      std::unique_lock<std::mutex> l(stop_mu);
      if (stop_cv.wait_for(l, std::chrono::milliseconds(n > high / 2 ? 20 : 200),
                           [this] { return stopping; })) {
        return;
      }
    }
  }

  // syncfs on the FUSE mount: pushes dirty pages (writeback cache, shared
  // mmap) to us, i.e. into the live generation, before a seal.
  void FlushFuseMount() {
    // Opened per seal, never kept: an fd on our own mount would make
    // `fusermount3 -u` fail with EBUSY.
    UniqueFd fd(::open(mountpoint.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    struct statfs sf;
    if (!fd || ::fstatfs(fd.get(), &sf) != 0 || sf.f_type != FUSE_SUPER_MAGIC) {
      LogWarn("seal: cannot open the FUSE mount " + mountpoint + " to flush dirty pages");
      return;
    }
    if (::syncfs(fd.get()) != 0) LogWarn(std::string("seal: syncfs: ") + strerror(errno));
  }
};

// Each inode the kernel remembers holds one O_PATH fd in the node table, so a
// container with many files would hit the default 1024/20000 descriptors
// (EMFILE to the container). Raise the limit to the kernel's per-process
// maximum while CAP_SYS_RESOURCE is still held; fall back to soft = hard.
void RaiseOpenFileLimit() {
  struct rlimit cur {};
  if (::getrlimit(RLIMIT_NOFILE, &cur) != 0) return;
  rlim_t max = cur.rlim_max;
  if (auto text = ReadFileToString("/proc/sys/fs/nr_open"); text.ok()) {
    char* end = nullptr;
    unsigned long long v = std::strtoull(text->c_str(), &end, 10);
    if (end != text->c_str() && v > max) max = static_cast<rlim_t>(v);
  }
  struct rlimit want = {max, max};
  if (::setrlimit(RLIMIT_NOFILE, &want) == 0) return;
  want = {cur.rlim_max, cur.rlim_max};
  if (::setrlimit(RLIMIT_NOFILE, &want) != 0) {
    LogWarn(std::string("cannot raise the open file limit: ") + strerror(errno));
  }
}

Status Setup(const FsOptions& o, Daemon& d) {
  ::umask(0);
  RaiseOpenFileLimit();
  RETURN_IF_ERROR(KeepCapsAcrossFsuid());
  std::unique_ptr<GenerationStack> stack;
  if (o.generations()) {
    ASSIGN_OR_RETURN(StateDir sd, StateDir::Open(o.state, o.lowerdirs, UnixNs()));
    uint64_t live = sd.live();
    ASSIGN_OR_RETURN(stack, GenerationStack::OpenState(std::move(sd)));
    ASSIGN_OR_RETURN(d.journal, ChangeJournal::Open(o.state, live));
    d.sink = std::make_unique<JournalSink>(d.journal.get());
  } else {
    ASSIGN_OR_RETURN(stack, GenerationStack::OpenPlain(o.lowerdirs, o.upperdir, o.workdir));
  }
  ASSIGN_OR_RETURN(d.core, FsCore::Create(std::move(stack), d.sink.get()));
  d.mountpoint = o.mountpoint;
  d.core->SetPreSealFlush([&d] { d.FlushFuseMount(); });
  d.core->SetInvalidateEntry([&d](uint64_t parent, const std::string& name) {
    // ENOENT: the kernel had no dentry for it; nothing to drop.
    if (d.session) (void)fuse_lowlevel_notify_inval_entry(d.session, parent, name.c_str(), name.size());
  });
  d.fuse_ctx.core = d.core.get();
  d.fuse_ctx.options.writeback_cache = o.writeback_cache;

  std::string mount_opts = "default_permissions,allow_other,dev,suid,fsname=ctrsnap-fs,subtype=ctrsnap-fs";
  for (const auto& opt : o.fuse_options) mount_opts += "," + opt;
  std::vector<std::string> argv_s = {"ctrsnap-fs", "-o", mount_opts};
  if (o.debug) argv_s.push_back("-d");
  std::vector<char*> argv;
  for (auto& s : argv_s) argv.push_back(s.data());
  fuse_args args = FUSE_ARGS_INIT(static_cast<int>(argv.size()), argv.data());
  d.session = fuse_session_new(&args, &FuseOperations(), sizeof(fuse_lowlevel_ops), &d.fuse_ctx);
  fuse_opt_free_args(&args);  // libfuse may have copied argv (LeakSanitizer found it)
  if (!d.session) return Status::InvalidArgument("fuse_session_new failed (bad FUSE options?)");
  if (fuse_set_signal_handlers(d.session) != 0) return Status::Internal("fuse signal handlers");
  d.signals = true;
  if (fuse_session_mount(d.session, o.mountpoint.c_str()) != 0) {
    return Status::Internal("fuse mount on " + o.mountpoint + " failed (see log)");
  }
  d.mounted = true;
  if (o.generations()) {
    d.handler = std::make_unique<FsControlHandler>(d.core.get(), d.journal.get());
    ASSIGN_OR_RETURN(d.control, ControlServer::Start(o.state, d.handler.get()));
  }
  struct rlimit rl {};
  const bool limited = ::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY;
  RETURN_IF_ERROR(DropCapabilities());
  RETURN_IF_ERROR(InstallSeccompFilter());
  if (limited) {
    const size_t fd_limit = static_cast<size_t>(rl.rlim_cur);
    d.shedder = std::thread([&d, fd_limit] { d.ShedUnderDescriptorPressure(fd_limit); });
  }
  return Status::Ok();
}

}  // namespace

int RunDaemon(const FsOptions& o, int ready_fd) {
  Status st = InitLogging(o);
  if (!st.ok()) {
    Notify(ready_fd, "ERR " + st.ToString() + "\n");
    std::fprintf(stderr, "ctrsnap-fs: %s\n", st.ToString().c_str());
    return 1;
  }
  auto d = std::make_unique<Daemon>();
  st = Setup(o, *d);
  if (!st.ok()) {
    LogError("ctrsnap-fs: " + st.ToString());
    Notify(ready_fd, "ERR " + st.ToString() + "\n");
    if (ready_fd < 0) std::fprintf(stderr, "ctrsnap-fs: %s\n", st.ToString().c_str());
    return 1;
  }
  LogInfo("ctrsnap-fs mounted on " + o.mountpoint + (o.generations() ? " state " + o.state : "") +
          ", live generation " + std::to_string(d->core->live_generation()));
  Notify(ready_fd, "OK\n");
  // One hot reader thread, handing over before requests that may block (see
  // request_loop.h for why not fuse_session_loop_mt).
  int rc = RunRequestLoop(d->session, 16);
  LogInfo("ctrsnap-fs on " + o.mountpoint + " exiting");
  if (d->journal) (void)d->journal->Flush();
  d.reset();
  AllowLeakCheckAtExit();
  return rc == 0 ? 0 : 1;
}

int RunDaemonized(const FsOptions& o) {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    std::perror("ctrsnap-fs: pipe");
    return 1;
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    std::perror("ctrsnap-fs: fork");
    return 1;
  }
  if (pid == 0) {
    ::close(p[0]);
    ::setsid();
    if (::chdir("/") != 0) _exit(1);
    int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::dup2(null, 2);
      ::close(null);
    }
    _exit(RunDaemon(o, p[1]));
  }
  ::close(p[1]);
  std::string msg;
  char buf[512];
  for (;;) {
    ssize_t n = ::read(p[0], buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    msg.append(buf, static_cast<size_t>(n));
  }
  ::close(p[0]);
  if (msg.rfind("OK", 0) == 0) return 0;
  if (msg.empty()) {
    int status = 0;
    ::waitpid(pid, &status, 0);
    msg = "daemon exited before mounting\n";
  }
  std::fprintf(stderr, "ctrsnap-fs: %s", msg.rfind("ERR ", 0) == 0 ? msg.c_str() + 4 : msg.c_str());
  return 1;
}

}  // namespace ctrsnap::fs
