// Kernel checks: FUSE, overlayfs, openat2, the new mount API.
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include "common/file_util.h"
#include "common/unique_fd.h"
#include "packaging/install/doctor.h"
#include "packaging/install/run_command.h"

namespace ctrsnap::install {
namespace {

// True when /proc/filesystems (TEXT) lists NAME.
bool ListsFilesystem(const std::string& text, const std::string& name) {
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    size_t tab = line.rfind('\t');
    std::string fs = tab == std::string::npos ? line : line.substr(tab + 1);
    if (fs == name) return true;
  }
  return false;
}

std::string ModulesDir(const DoctorOptions& o) {
  if (!o.modules_dir.empty()) return o.modules_dir;
  utsname u{};
  ::uname(&u);
  return std::string("/lib/modules/") + u.release;
}

// True when modules.dep or modules.builtin names MODULE.ko.
bool ModuleAvailable(const DoctorOptions& o, const std::string& module) {
  for (const char* f : {"/modules.dep", "/modules.builtin"}) {
    auto text = ReadFileToString(ModulesDir(o) + f);
    if (text.ok() && text->find("/" + module + ".ko") != std::string::npos) return true;
  }
  return false;
}

}  // namespace

CheckResult CheckFuse(const DoctorOptions& o) {
  CheckResult r{"fuse", CheckLevel::kOk, "", ""};
  struct stat st;
  if (::stat(o.dev_fuse.c_str(), &st) != 0 || !S_ISCHR(st.st_mode)) {
    r.level = CheckLevel::kFail;
    r.message = o.dev_fuse + " is missing or not a character device";
    r.fix = "modprobe fuse (in a container: run it with --device /dev/fuse)";
    return r;
  }
  UniqueFd fd(::open(o.dev_fuse.c_str(), O_RDWR | O_CLOEXEC));
  if (!fd && errno != EPERM && errno != EACCES) {
    r.level = CheckLevel::kFail;
    r.message = "cannot open " + o.dev_fuse + ": " + std::strerror(errno);
    r.fix = "modprobe fuse";
    return r;
  }
  auto fs = ReadFileToString(o.proc_filesystems);
  if (!fs.ok() || !ListsFilesystem(*fs, "fuse")) {
    r.level = CheckLevel::kFail;
    r.message = "fuse is not in " + o.proc_filesystems;
    r.fix = "modprobe fuse";
    return r;
  }
  std::string fusermount = FindInPath("fusermount3", o.path_env);
  if (fusermount.empty()) {
    r.level = CheckLevel::kFail;
    r.message = "fusermount3 not found in PATH";
    r.fix = "apt-get install fuse3";
    return r;
  }
  r.message = o.dev_fuse + ", fuse in " + o.proc_filesystems + ", " + fusermount;
  return r;
}

CheckResult CheckOverlay(const DoctorOptions& o) {
  CheckResult r{"overlayfs", CheckLevel::kOk, "", ""};
  auto fs = ReadFileToString(o.proc_filesystems);
  if (fs.ok() && ListsFilesystem(*fs, "overlay")) {
    r.message = "overlay is in " + o.proc_filesystems;
  } else if (ModuleAvailable(o, "overlay")) {
    r.level = CheckLevel::kWarn;
    r.message = "overlay is not loaded but the module is available";
    r.fix = "modprobe overlay && echo overlay > /etc/modules-load.d/ctrsnap.conf";
  } else {
    r.level = CheckLevel::kFail;
    r.message = "overlay is neither in " + o.proc_filesystems + " nor a module of this kernel";
    r.fix = "use a kernel with CONFIG_OVERLAY_FS (Debian's linux-image-amd64 has it)";
  }
  return r;
}

CheckResult CheckOpenat2() {
  open_how how{};
  how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
  how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS;
  long fd = ::syscall(SYS_openat2, AT_FDCWD, ".", &how, sizeof how);
  if (fd >= 0) {
    ::close(static_cast<int>(fd));
    return {"openat2", CheckLevel::kOk, "openat2(RESOLVE_BENEATH) works", ""};
  }
  int err = errno;
  return {"openat2", CheckLevel::kFail,
          std::string("openat2 failed: ") + std::strerror(err) +
              (err == ENOSYS ? " (kernel older than 5.6, or a seccomp filter blocks it)" : ""),
          "use a kernel >= 5.6 (Debian 12's 6.1 has it); in a container, allow openat2 in "
          "its seccomp profile"};
}

CheckResult CheckMountApi() {
  long fd = ::syscall(SYS_fsopen, "tmpfs", 0x1 /* FSOPEN_CLOEXEC */);
  if (fd >= 0) {
    ::close(static_cast<int>(fd));
    return {"mount API", CheckLevel::kOk, "fsopen() works (new mount API)", ""};
  }
  int err = errno;
  if (err == EPERM) {
    return {"mount API", CheckLevel::kWarn,
            "fsopen() is refused (EPERM): not root, or no CAP_SYS_ADMIN", "run doctor as root"};
  }
  return {"mount API", CheckLevel::kWarn,
          std::string("fsopen() failed: ") + std::strerror(err) +
              " (the new mount API is unavailable)",
          "use a kernel >= 5.2"};
}

}  // namespace ctrsnap::install
