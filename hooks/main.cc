// ctrsnap-hook: the OCI hook that ctrsnap-runtime adds to each container.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "common/file_util.h"
#include "common/log.h"
#include "common/program.h"
#include "common/state_layout.h"
#include "hooks/ctrsnap_hooks.h"

static const char kUsage[] =
    "usage: ctrsnap-hook HOOK --state STATE_DIR\n"
    "\n"
    "Run by the OCI runtime with the container state on standard input.\n"
    "HOOK is the hook point ctrsnap-runtime registered:\n"
    "  poststop    flush the journal, seal the last writes, record the exit\n"
    "  seal-setup  seal the setup generation (createRuntime hook of `run`)\n";

int main(int argc, char** argv) {
  using namespace ctrsnap;  // NOLINT: main only
  std::string hook, state_dir;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "-V" || a == "--version") {
      PrintVersion("ctrsnap-hook");
      return 0;
    }
    if (a == "--state" && i + 1 < argc) {
      state_dir = argv[++i];
    } else if (a.rfind("--state=", 0) == 0) {
      state_dir = a.substr(8);
    } else if (hook.empty()) {
      hook = a;
    } else {
      std::fprintf(stderr, "ctrsnap-hook: unexpected argument '%s'\n%s", a.c_str(), kUsage);
      return 2;
    }
  }
  if (hook.empty() || state_dir.empty()) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  // The runtime shows a hook's stderr; the state dir keeps a copy.
  if (auto logger = Logger::Open({LogLevel::kInfo, LogFormat::kText, layout::DaemonLogPath(state_dir)});
      logger.ok()) {
    InitProcessLogger(std::move(logger).value());
  }
  auto input = ReadFdToString(STDIN_FILENO);
  auto state = hooks::ParseOciState(input.ok() ? *input : std::string());
  Status st;
  if (hook == "poststop") {
    st = state.ok() ? hooks::RunPoststop(state_dir, *state) : state.status();
  } else if (hook == "seal-setup") {
    st = hooks::RunSealSetup(state_dir);
    if (!st.ok()) {
      // Failing a createRuntime hook would fail the container; the setup
      // writes then merely stay in the first user generation.
      LogWarn("ctrsnap-hook seal-setup: " + st.ToString());
      std::fprintf(stderr, "ctrsnap-hook seal-setup: %s\n", st.ToString().c_str());
      return 0;
    }
  } else {
    std::fprintf(stderr, "ctrsnap-hook: unknown hook '%s'\n%s", hook.c_str(), kUsage);
    return 2;
  }
  if (!st.ok()) {
    LogError("ctrsnap-hook " + hook + ": " + st.ToString());
    std::fprintf(stderr, "ctrsnap-hook %s: %s\n", hook.c_str(), st.ToString().c_str());
    return 1;
  }
  return 0;
}
