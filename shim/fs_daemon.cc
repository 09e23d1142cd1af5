#include "shim/fs_daemon.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "common/control_client.h"
#include "common/file_util.h"
#include "common/fs_meta.h"
#include "common/log.h"
#include "common/state_layout.h"
#include "common/unique_fd.h"
#include "shim/lower_residue.h"
#include "shim/process.h"

namespace ctrsnap::shim {
namespace {

void SleepMs(int ms) {
  timespec ts{ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, nullptr);
}

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      int v = 0;
      bool ok = true;
      for (size_t k = 1; k <= 3; ++k) {
        char c = s[i + k];
        if (c < '0' || c > '7') ok = false;
        v = v * 8 + (c - '0');
      }
      if (ok) {
        out += static_cast<char>(v);
        i += 3;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

}  // namespace

// Binds LOWERDIR at STATE/lower (once: a resumed state may have it already),
// so the lower stays reachable by path after ctrsnap-fs covers the original
// root. The daemon itself keeps fds; the layer writer and drift need paths.
static Result<std::string> BindLowerView(const std::string& lowerdir, const std::string& state) {
  std::string view = layout::LowerViewPath(state);
  if (!TopMountType(view).empty()) return view;
  if (::mkdir(view.c_str(), 0700) != 0 && errno != EEXIST) {
    return Status::FromErrno(errno, "mkdir", view);
  }
  if (::mount(lowerdir.c_str(), view.c_str(), nullptr, MS_BIND, nullptr) != 0) {
    return Status::FromErrno(errno, "bind mount " + lowerdir + " on", view);
  }
  ::mount(nullptr, view.c_str(), nullptr, MS_PRIVATE, nullptr);
  // The view is the whole root again (a residue under it is hidden).
  if (::unlink(layout::LowerResidueMarkerPath(state).c_str()) != 0 && errno != ENOENT) {
    return Status::FromErrno(errno, "unlink", layout::LowerResidueMarkerPath(state));
  }
  return view;
}

// Unmounts the lower view of STATE, keeping what the generations need from it
// (BuildLowerResidue) in its place. A failure to build the residue leaves the
// previous residue, if any, and is logged: delete must still succeed.
static Status ReleaseLowerView(const std::string& state) {
  std::string view = layout::LowerViewPath(state);
  if (TopMountType(view).empty()) return Status::Ok();
  std::string fresh = state + "/lower.new";
  std::string old = state + "/lower.old";
  bool built = false;
  ResidueStats stats;
  if (TopMountType(fresh).empty() && TopMountType(old).empty()) {
    (void)RemoveTree(fresh);
    (void)RemoveTree(old);
    auto meta = FsMeta::Load(state);
    std::vector<std::string> gens;
    if (meta.ok()) {
      for (const auto& g : meta->generations) gens.push_back(layout::UpperDir(state, g.id));
    }
    auto res = meta.ok() ? BuildLowerResidue(gens, view, fresh) : Result<ResidueStats>(meta.status());
    if (res.ok()) {
      built = true;
      stats = *res;
    } else {
      LogWarn("keeping what the generations need from the lower: " + res.status().ToString());
      (void)RemoveTree(fresh);
    }
  }
  nlohmann::json marker = {{"built", built},
                           {"metacopy_files", stats.metacopy_files},
                           {"redirects", stats.redirects},
                           {"entries", stats.entries},
                           {"bytes", stats.bytes}};
  RETURN_IF_ERROR(WriteFileAtomic(layout::LowerResidueMarkerPath(state), marker.dump() + "\n", 0600));
  for (int i = 0; i < 4 && !TopMountType(view).empty(); ++i) {
    if (::umount2(view.c_str(), MNT_DETACH) != 0) return Status::FromErrno(errno, "umount", view);
  }
  if (!built) return Status::Ok();
  if (!TopMountType(view).empty()) return Status(Code::kBusy, view + " is still mounted");
  // Swap: a crash in between leaves lower.new or lower.old, removed next time.
  if (::rename(view.c_str(), old.c_str()) != 0 && errno != ENOENT) {
    return Status::FromErrno(errno, "rename", view);
  }
  if (::rename(fresh.c_str(), view.c_str()) != 0) return Status::FromErrno(errno, "rename", fresh);
  return RemoveTree(old);
}

Status StartFsDaemon(const FsLaunch& launch) {
  for (const std::string* p : {&launch.lowerdir, &launch.state_dir}) {
    if (p->find(',') != std::string::npos) {
      return Status::InvalidArgument("path contains ',' and cannot be passed to ctrsnap-fs: " + *p);
    }
  }
  ASSIGN_OR_RETURN(std::string lower_view, BindLowerView(launch.lowerdir, launch.state_dir));
  std::vector<std::string> argv = {launch.fs_binary, "-o",
                                   "lowerdir=" + lower_view + ",state=" + launch.state_dir +
                                       (launch.writeback_cache ? "" : ",writeback_cache=off"),
                                   launch.mountpoint};
  DetachOptions opts;
  opts.stderr_path = layout::DaemonLogPath(launch.state_dir);
  opts.cgroup_name = "ctrsnap";
  ASSIGN_OR_RETURN(int rc, RunDetached(argv, opts, launch.timeout_ms));
  if (rc != 0) {
    return Status(Code::kIo, launch.fs_binary + " exited with status " + std::to_string(rc) +
                                 " (see " + opts.stderr_path + ")");
  }
  std::string type = TopMountType(launch.mountpoint);
  if (!IsFuseType(type)) {
    return Status(Code::kIo, launch.fs_binary + " returned but " + launch.mountpoint +
                                 " is not a FUSE mount (top: '" + type + "')");
  }
  return Status::Ok();
}

bool StateLocked(const std::string& state_dir) {
  UniqueFd fd(::open(layout::LockPath(state_dir).c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
  if (!fd) return false;
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) {
    ::flock(fd.get(), LOCK_UN);
    return false;
  }
  return errno == EWOULDBLOCK;
}

std::optional<pid_t> LockHolderPid(const std::string& state_dir) {
  struct stat st{};
  if (::stat(layout::LockPath(state_dir).c_str(), &st) != 0) return std::nullopt;
  std::ifstream locks("/proc/locks");
  std::string line;
  while (std::getline(locks, line)) {
    // "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF"  ("->" marks waiters)
    std::istringstream in(line);
    std::string n, kind, adv, mode, pid, dev;
    in >> n >> kind;
    if (kind == "->") in >> kind;
    in >> adv >> mode >> pid >> dev;
    if (kind != "FLOCK") continue;
    unsigned maj = 0, min = 0;
    unsigned long long ino = 0;
    if (std::sscanf(dev.c_str(), "%x:%x:%llu", &maj, &min, &ino) != 3) continue;
    if (ino == st.st_ino && makedev(maj, min) == st.st_dev) {
      return static_cast<pid_t>(std::stol(pid));
    }
  }
  return std::nullopt;
}

std::string TopMountType(const std::string& path) {
  std::ifstream mountinfo("/proc/self/mountinfo");
  std::string line, type;
  while (std::getline(mountinfo, line)) {
    std::istringstream in(line);
    std::string id, parent, dev, root, mountpoint;
    in >> id >> parent >> dev >> root >> mountpoint;
    if (Unescape(mountpoint) != path) continue;
    size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream tail(line.substr(dash + 3));
    tail >> type;  // later lines are mounted on top of earlier ones
  }
  return type;
}

Result<nlohmann::json> FsStatus(const std::string& state_dir, int timeout_ms) {
  return ControlCall(state_dir, {{"op", "status"}}, timeout_ms);
}

static bool LiveHasFiles(const nlohmann::json& status) {
  try {
    uint64_t live = status.at("live").get<uint64_t>();
    for (const auto& g : status.at("generations")) {
      if (g.at("id").get<uint64_t>() == live) {
        return g.value("files", uint64_t{1}) > 0 || g.value("bytes", uint64_t{1}) > 0;
      }
    }
  } catch (const nlohmann::json::exception&) {
  }
  return true;  // unknown: seal to be safe
}

Result<bool> FsSeal(const std::string& state_dir, const std::string& label, bool if_not_empty,
                    int timeout_ms) {
  if (if_not_empty) {
    ASSIGN_OR_RETURN(auto status, FsStatus(state_dir, timeout_ms));
    if (!LiveHasFiles(status)) return false;
  }
  nlohmann::json req = {{"op", "seal"}, {"label", label}};
  RETURN_IF_ERROR(ControlCall(state_dir, req, timeout_ms).status().WithContext("seal " + label));
  return true;
}

Status StopFsDaemon(const std::string& state_dir, const std::string& mountpoint, int timeout_ms) {
  // No flush first: the daemon flushes its journal when it exits, and the
  // poststop hook has flushed and sealed already; a round trip here is time
  // every `docker run --rm` pays.
  // Only our FUSE mount is removed; the engine's own rootfs mount below it is
  // the engine's to undo. A stacked second FUSE mount (two creates) goes too.
  for (int i = 0; i < 4 && !mountpoint.empty() && IsFuseType(TopMountType(mountpoint)); ++i) {
    if (::umount2(mountpoint.c_str(), MNT_DETACH) != 0) {
      return Status::FromErrno(errno, "umount", mountpoint);
    }
  }
  // The container is gone and our mount with it: the generations are final.
  Status released = ReleaseLowerView(state_dir);
  int waited = 0;
  while (StateLocked(state_dir)) {
    if (waited >= timeout_ms) {
      auto pid = LockHolderPid(state_dir);
      if (!pid) break;
      int sig = waited >= timeout_ms + 3000 ? SIGKILL : SIGTERM;
      LogWarn("ctrsnap-fs (pid " + std::to_string(*pid) + ") still running after unmount; sending " +
              (sig == SIGKILL ? "SIGKILL" : "SIGTERM"));
      ::kill(*pid, sig);
      if (waited >= timeout_ms + 6000) {
        return Status(Code::kBusy, "ctrsnap-fs for " + state_dir + " does not exit");
      }
      SleepMs(500);
      waited += 500;
      continue;
    }
    SleepMs(10);
    waited += 10;
  }
  return released;
}

}  // namespace ctrsnap::shim
