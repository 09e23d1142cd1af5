// ctrsnap-hook: the OCI hook that ctrsnap-runtime adds to each container.
#include <cstdio>
#include <cstring>

#include "common/program.h"

static const char kUsage[] =
    "usage: ctrsnap-hook HOOK\n"
    "\n"
    "Run by the OCI runtime with the container state on standard input.\n"
    "HOOK is the hook point ctrsnap-runtime registered (e.g. poststop).\n";

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "-h") || !std::strcmp(argv[i], "--help")) {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (!std::strcmp(argv[i], "-V") || !std::strcmp(argv[i], "--version")) {
      ctrsnap::PrintVersion("ctrsnap-hook");
      return 0;
    }
  }
  std::fputs(kUsage, stderr);
  return 2;
}
