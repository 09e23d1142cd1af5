#include "packaging/install/service.h"

#include <sys/stat.h>
#include <unistd.h>

#include "packaging/install/run_command.h"

namespace ctrsnap::install {

bool SystemdRunning(const std::string& systemd_dir) {
  struct stat st;
  return ::lstat(systemd_dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}

Status RestartService(const std::string& unit, const std::string& systemd_dir) {
  if (!SystemdRunning(systemd_dir)) {
    return Status::Unsupported("systemd is not running on this host (no " + systemd_dir +
                               "): restart " + unit + " yourself");
  }
  ASSIGN_OR_RETURN(CommandResult r, RunCommand({"systemctl", "restart", unit}));
  if (r.exit_code != 0) {
    return Status::Internal("systemctl restart " + unit + " failed: " + r.err +
                            " (see `journalctl -u " + unit + "`)");
  }
  return Status::Ok();
}

std::string SelfDir() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return "/usr/bin";
  std::string path(buf, static_cast<size_t>(n));
  size_t slash = path.rfind('/');
  return slash == std::string::npos || slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace ctrsnap::install
