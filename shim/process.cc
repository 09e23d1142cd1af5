#include "shim/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/file_util.h"

namespace ctrsnap::shim {
namespace {

std::vector<char*> CArgv(const std::vector<std::string>& argv) {
  std::vector<char*> out;
  out.reserve(argv.size() + 1);
  for (const auto& a : argv) out.push_back(const_cast<char*>(a.c_str()));
  out.push_back(nullptr);
  return out;
}

int ShellStatus(int wstatus) {
  if (WIFEXITED(wstatus)) return WEXITSTATUS(wstatus);
  if (WIFSIGNALED(wstatus)) return 128 + WTERMSIG(wstatus);
  return 255;
}

constexpr int kForwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};

void CloseFrom(unsigned first) {
#ifdef SYS_close_range
  if (::syscall(SYS_close_range, first, ~0U, 0) == 0) return;
#endif
  for (int fd = static_cast<int>(first); fd < 65536; ++fd) ::close(fd);
}

}  // namespace

Status ExecProgram(const std::vector<std::string>& argv) {
  if (argv.empty()) return Status::InvalidArgument("exec: empty argv");
  auto cargv = CArgv(argv);
  ::execvp(cargv[0], cargv.data());
  return Status::FromErrno(errno, "exec", argv[0]);
}

Result<int> RunAndWait(const std::vector<std::string>& argv, const RunOptions& options) {
  if (argv.empty()) return Status::InvalidArgument("run: empty argv");
  auto cargv = CArgv(argv);
  sigset_t forwarded, old;
  sigemptyset(&forwarded);
  if (options.forward_signals) {
    for (int s : kForwarded) sigaddset(&forwarded, s);
  }
  sigaddset(&forwarded, SIGCHLD);
  sigprocmask(SIG_BLOCK, &forwarded, &old);
  pid_t pid = ::fork();
  if (pid < 0) {
    int err = errno;
    sigprocmask(SIG_SETMASK, &old, nullptr);
    return Status::FromErrno(err, "fork");
  }
  if (pid == 0) {
    sigprocmask(SIG_SETMASK, &old, nullptr);
    if (options.quiet_stdout) {
      int null = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
      if (null >= 0) ::dup2(null, STDOUT_FILENO);
    }
    ::execvp(cargv[0], cargv.data());
    dprintf(STDERR_FILENO, "ctrsnap-runtime: exec %s: %s\n", cargv[0], strerror(errno));
    _exit(127);
  }
  int wstatus = 0;
  for (;;) {
    siginfo_t info{};
    int sig = sigwaitinfo(&forwarded, &info);
    if (sig < 0) {
      if (errno == EINTR) continue;
      break;
    }
    if (sig == SIGCHLD) {
      pid_t r = ::waitpid(pid, &wstatus, WNOHANG);
      if (r == pid) break;
      continue;
    }
    ::kill(pid, sig);
  }
  // SIGCHLD for an earlier child may be pending still; a blocking wait is exact.
  if (::waitpid(pid, &wstatus, WNOHANG) == 0) ::waitpid(pid, &wstatus, 0);
  sigprocmask(SIG_SETMASK, &old, nullptr);
  return ShellStatus(wstatus);
}

Result<int> RunDetached(const std::vector<std::string>& argv, const DetachOptions& options,
                        int timeout_ms) {
  if (argv.empty()) return Status::InvalidArgument("run: empty argv");
  auto cargv = CArgv(argv);
  // Opened before fork so that errors are reported here; not CLOEXEC-free:
  // they are dup2'ed onto 0-2, which exec keeps.
  int null = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null < 0) return Status::FromErrno(errno, "open", "/dev/null");
  int err_fd = null;
  if (!options.stderr_path.empty()) {
    err_fd = ::open(options.stderr_path.c_str(),
                    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (err_fd < 0) {
      int e = errno;
      ::close(null);
      return Status::FromErrno(e, "open", options.stderr_path);
    }
  }
  pid_t pid = ::fork();
  if (pid < 0) {
    int e = errno;
    ::close(null);
    if (err_fd != null) ::close(err_fd);
    return Status::FromErrno(e, "fork");
  }
  if (pid == 0) {
    // Default dispositions and an empty mask for the daemon.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    ::setsid();
    if (!options.cgroup_name.empty()) (void)MoveToOwnCgroup(0, options.cgroup_name);
    ::dup2(null, STDIN_FILENO);
    ::dup2(null, STDOUT_FILENO);
    ::dup2(err_fd, STDERR_FILENO);
    CloseFrom(3);
    if (::chdir("/") != 0) _exit(126);
    ::execvp(cargv[0], cargv.data());
    dprintf(STDERR_FILENO, "ctrsnap-runtime: exec %s: %s\n", cargv[0], strerror(errno));
    _exit(127);
  }
  ::close(null);
  if (err_fd != null) ::close(err_fd);
  int wstatus = 0;
  timespec start{};
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    pid_t r = ::waitpid(pid, &wstatus, WNOHANG);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) return Status::FromErrno(errno, "waitpid", argv[0]);
    timespec now{};
    clock_gettime(CLOCK_MONOTONIC, &now);
    long elapsed_ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
    if (elapsed_ms > timeout_ms) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &wstatus, 0);
      return Status(Code::kBusy, argv[0] + " did not become ready within " +
                                     std::to_string(timeout_ms) + " ms");
    }
    timespec nap{0, 2 * 1000 * 1000};
    nanosleep(&nap, nullptr);
  }
  return ShellStatus(wstatus);
}

Status MoveToOwnCgroup(pid_t pid, const std::string& name) {
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::string line;
  int moved = 0;
  std::string errors;
  while (std::getline(mountinfo, line)) {
    // ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS [OPTIONAL...] - FSTYPE SOURCE SUPER
    std::istringstream in(line);
    std::string id, parent, dev, root, mountpoint;
    in >> id >> parent >> dev >> root >> mountpoint;
    size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream tail(line.substr(dash + 3));
    std::string fstype;
    tail >> fstype;
    if (fstype != "cgroup" && fstype != "cgroup2") continue;
    if (root != "/") continue;  // a hierarchy mounted below its root (a container's view)
    if (mountpoint.find('\\') != std::string::npos) continue;  // escaped: not ours
    std::string dir = mountpoint + "/" + name;
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      errors += " mkdir " + dir + ": " + strerror(errno) + ";";
      continue;
    }
    int fd = ::open((dir + "/cgroup.procs").c_str(), O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
      errors += " open " + dir + "/cgroup.procs: " + strerror(errno) + ";";
      continue;
    }
    std::string pid_text = std::to_string(pid == 0 ? ::getpid() : pid);
    if (::write(fd, pid_text.data(), pid_text.size()) < 0) {
      errors += " write " + dir + "/cgroup.procs: " + strerror(errno) + ";";
    } else {
      ++moved;
    }
    ::close(fd);
  }
  if (moved == 0) return Status(Code::kUnsupported, "no cgroup hierarchy accepted the move:" + errors);
  return Status::Ok();
}

std::string SelfDir() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  std::string path(buf, static_cast<size_t>(n));
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

std::string FindOnPath(const std::string& program) {
  if (program.empty()) return "";
  if (program.find('/') != std::string::npos) {
    return ::access(program.c_str(), X_OK) == 0 ? program : "";
  }
  const char* path = std::getenv("PATH");  // NOLINT(concurrency-mt-unsafe): single-threaded
  std::string dirs = path != nullptr ? path : "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t end = dirs.find(':', start);
    if (end == std::string::npos) end = dirs.size();
    std::string dir = dirs.substr(start, end - start);
    if (dir.empty()) dir = ".";
    std::string candidate = dir + "/" + program;
    struct stat st{};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  return "";
}

}  // namespace ctrsnap::shim
