// ctrsnap-runtime: a drop-in OCI runtime that wraps runc (see README).
#include <cstdio>
#include <cstring>

#include "common/program.h"

static const char kUsage[] =
    "usage: ctrsnap-runtime [runc global options] COMMAND [options] [args]\n"
    "\n"
    "A drop-in replacement for runc: every command and flag is passed to the real\n"
    "runtime (runc by default; see /etc/ctrsnap/config.json), except that `create`\n"
    "and `run` first put the container's root on a ctrsnap-fs filesystem so that it\n"
    "can be snapshotted with `ctrsnap snapshot`.\n";

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "-h") || !std::strcmp(argv[i], "--help")) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (!std::strcmp(argv[i], "-v") || !std::strcmp(argv[i], "--version")) {
      ctrsnap::PrintVersion("ctrsnap-runtime");
      return 0;
    }
  }
  std::fputs(kUsage, stderr);
  return 2;
}
