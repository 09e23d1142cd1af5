// ctrsnap-runtime: a drop-in OCI runtime that wraps runc (see shim/runtime.h).
#include <signal.h>

#include <cstdio>
#include <string>
#include <vector>

#include "common/config.h"
#include "common/log.h"
#include "common/program.h"
#include "shim/runc_args.h"
#include "shim/runtime.h"

static const char kUsage[] =
    "usage: ctrsnap-runtime [runc global options] COMMAND [options] [args]\n"
    "\n"
    "A drop-in replacement for runc: every command and flag is passed to the real\n"
    "runtime (runc by default; see /etc/ctrsnap/config.json), except that `create`\n"
    "and `run` first put the container's root on a ctrsnap-fs filesystem so that it\n"
    "can be snapshotted with `ctrsnap snapshot`, `start` seals the setup generation\n"
    "and `delete` stops the filesystem, keeping its state for post-mortem snapshots.\n"
    "\n"
    "Environment: CTRSNAP_CONFIG (config file), CTRSNAP_ROOT (state root),\n"
    "CTRSNAP_DISABLE=1 (pass everything through untouched).\n";

int main(int argc, char** argv) {
  using namespace ctrsnap;  // NOLINT: main only
  // An engine may start us with SIGCHLD ignored; waitpid needs the default.
  signal(SIGCHLD, SIG_DFL);
  std::vector<std::string> args(argv + 1, argv + argc);
  auto parsed = shim::ParseRuncArgs(args);
  shim::RuncArgs runc_args;
  if (parsed.ok()) {
    runc_args = std::move(parsed).value();
  } else {
    runc_args.argv = args;  // malformed: the real runtime says what is wrong
  }
  const auto& g = runc_args.globals;
  if (runc_args.command.empty() && g.help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  auto config = Config::LoadDefault();
  LogOptions log_options;
  log_options.path = g.log;
  log_options.format = g.log_format == "json" ? LogFormat::kJson : LogFormat::kText;
  if (config.ok()) {
    log_options.level = ParseLogLevel(config->log_level).value_or(LogLevel::kInfo);
  }
  if (g.debug) log_options.level = LogLevel::kDebug;
  auto logger = Logger::Open(log_options);
  if (logger.ok()) InitProcessLogger(std::move(logger).value());
  if (runc_args.command.empty() && g.version) {
    PrintVersion("ctrsnap-runtime");
    std::fflush(stdout);
    // Then the real runtime's own version, as wrappers like nvidia's do.
  }
  if (!config.ok()) {
    LogError("ctrsnap-runtime: " + config.status().ToString());
    return 1;
  }
  auto env = shim::ResolveWrapperEnv(*config);
  if (!env.ok()) {
    LogError("ctrsnap-runtime: " + env.status().ToString());
    return 1;
  }
  return shim::RunWrapper(runc_args, *env);
}
