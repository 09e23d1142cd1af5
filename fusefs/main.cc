// ctrsnap-fs: the copy-on-write FUSE root filesystem daemon (see README).
#include <cstdio>
#include <string>
#include <vector>

#include "common/program.h"
#include "fusefs/core/options.h"
#include "fusefs/fuse/daemon.h"

static const char kUsage[] =
    "usage: ctrsnap-fs [-f] [-d] -o lowerdir=L1:L2:...,(upperdir=U,workdir=W|state=DIR)[,opts] "
    "MOUNTPOINT\n"
    "\n"
    "Serves a container's root: read-only lower directories merged with a writable upper\n"
    "kept as sealed generations (overlayfs upper format) and a write journal.\n"
    "\n"
    "  -f            stay in the foreground\n"
    "  -d            debug: foreground and log every request\n"
    "  -o OPTIONS    lowerdir=, upperdir=, workdir=, state=, log_level=, writeback_cache=on|off,\n"
    "                plus FUSE mount options (allow_other, ro, fsname=, ...); fuse-overlayfs-only\n"
    "                options are ignored\n"
    "  -h, --help    this text\n"
    "  -V, --version print the version\n";

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  auto opts = ctrsnap::fs::ParseCommandLine(args);
  if (!opts.ok()) {
    std::fprintf(stderr, "ctrsnap-fs: %s\n%s", opts.status().message().c_str(), kUsage);
    return 2;
  }
  if (opts->help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (opts->version) {
    ctrsnap::PrintVersion("ctrsnap-fs");
    return 0;
  }
  if (opts->foreground) return ctrsnap::fs::RunDaemon(*opts, -1);
  return ctrsnap::fs::RunDaemonized(*opts);
}
