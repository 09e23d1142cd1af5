// ctrsnap-fs: the copy-on-write FUSE root filesystem daemon (see README).
#include <cstdio>
#include <cstring>

#include "common/program.h"

static const char kUsage[] =
    "usage: ctrsnap-fs [-f] [-d] -o lowerdir=L1:L2:...,(upperdir=U,workdir=W|state=DIR)[,opts] "
    "MOUNTPOINT\n"
    "\n"
    "Serves a container's root: read-only lower directories merged with a writable upper\n"
    "kept as sealed generations (overlayfs upper format) and a write journal.\n"
    "\n"
    "  -f            stay in the foreground\n"
    "  -d            debug: foreground and log every request\n"
    "  -o OPTIONS    lowerdir=, upperdir=, workdir=, state=, plus FUSE mount options\n"
    "  -h, --help    this text\n"
    "  -V, --version print the version\n";

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "-h") || !std::strcmp(argv[i], "--help")) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (!std::strcmp(argv[i], "-V") || !std::strcmp(argv[i], "--version")) {
      ctrsnap::PrintVersion("ctrsnap-fs");
      return 0;
    }
  }
  std::fputs(kUsage, stderr);
  return 2;
}
