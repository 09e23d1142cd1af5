#include "fusefs/core/overlay_mount.h"

#include <fcntl.h>
#include <linux/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

namespace ctrsnap::fs {
namespace {

// Why index=off: with index=on the kernel refuses (EBUSY) to mount a directory
// as a lower while it is the upper of a live mount, which would force a seal to
// tear down every fd of the old epoch, orphans included. With index=off the old
// epoch stays readable for orphaned handles and a seal stays O(1); the cost is
// that copy-up of one name of a hard-linked lower file breaks the link (as in
// Docker's overlay2).
int FsConfig(int fd, unsigned cmd, const char* key, const char* value, int aux) {
  return static_cast<int>(syscall(SYS_fsconfig, fd, cmd, key, value, aux));
}

// The kernel's explanation of a failed fsconfig (the fs context's log).
std::string ContextLog(int fsfd) {
  std::string out;
  char buf[1024];
  for (;;) {
    ssize_t n = ::read(fsfd, buf, sizeof(buf));
    if (n <= 0) break;
    if (!out.empty()) out += "; ";
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

Result<UniqueFd> TryMount(const OverlayLayers& layers, bool metacopy) {
  UniqueFd fsfd(static_cast<int>(syscall(SYS_fsopen, "overlay", FSOPEN_CLOEXEC)));
  if (!fsfd) return Status::FromErrno(errno, "fsopen", "overlay");
  auto fail = [&](const char* what) {
    int err = errno;
    std::string log = ContextLog(fsfd.get());
    return Status::FromErrno(err, std::string("fsconfig ") + what,
                             log.empty() ? std::string() : "(" + log + ")");
  };
  for (int fd : layers.lowers) {
    if (FsConfig(fsfd.get(), FSCONFIG_SET_FD, "lowerdir+", nullptr, fd) != 0) {
      return fail("lowerdir+");
    }
  }
  if (layers.upper >= 0) {
    if (FsConfig(fsfd.get(), FSCONFIG_SET_FD, "upperdir", nullptr, layers.upper) != 0) {
      return fail("upperdir");
    }
    if (FsConfig(fsfd.get(), FSCONFIG_SET_FD, "workdir", nullptr, layers.work) != 0) {
      return fail("workdir");
    }
  }
  const char* opts[][2] = {{"redirect_dir", "on"}, {"index", "off"}, {"xino", "auto"}};
  for (auto& kv : opts) {
    if (FsConfig(fsfd.get(), FSCONFIG_SET_STRING, kv[0], kv[1], 0) != 0) return fail(kv[0]);
  }
  if (metacopy && FsConfig(fsfd.get(), FSCONFIG_SET_STRING, "metacopy", "on", 0) != 0) {
    return fail("metacopy");
  }
  if (FsConfig(fsfd.get(), FSCONFIG_CMD_CREATE, nullptr, nullptr, 0) != 0) return fail("create");
  UniqueFd mnt(static_cast<int>(syscall(SYS_fsmount, fsfd.get(), FSMOUNT_CLOEXEC, 0)));
  if (!mnt) return Status::FromErrno(errno, "fsmount", "overlay");
  // fsfd holds a superblock reference; it closes here, leaving MNT as the owner.
  return mnt;
}

}  // namespace

Result<UniqueFd> MountOverlay(const OverlayLayers& layers, OverlayFeatures* features) {
  auto r = TryMount(layers, /*metacopy=*/true);
  bool metacopy = true;
  if (!r.ok() && r.status().err() == EINVAL) {
    r = TryMount(layers, /*metacopy=*/false);
    metacopy = false;
  }
  if (r.ok() && features) {
    features->metacopy = metacopy;
    features->redirect_dir = true;
  }
  return r;
}

Result<UniqueFd> OpenLayerDir(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!fd) return Status::FromErrno(errno, "open layer", path);
  return fd;
}

}  // namespace ctrsnap::fs
