// ctrsnap demo: see layers/demo/demo_runner.h.
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <string>

#include "layers/cli/commands.h"
#include "layers/demo/demo_runner.h"

namespace ctrsnap::cli {

static std::string SelfDir() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  std::string exe(buf, static_cast<size_t>(n));
  return exe.substr(0, exe.rfind('/'));
}

void AddDemoCommand(CLI::App& root, Context& ctx) {
  auto opts = std::make_shared<demo::DemoOptions>();
  CLI::App* cmd = root.add_subcommand(
      "demo", "run a container through ctrsnap-runtime, snapshot it twice while it runs, and "
              "start the snapshot (needs root and runc, or Docker; under a minute)");
  cmd->add_option("--engine", opts->engine,
                  "runc (plain runc, no engine), docker (the daemon DOCKER_HOST names, with the "
                  "ctrsnap runtime registered), or auto: docker when it is so set up, else runc")
      ->capture_default_str();
  cmd->add_option("--workdir", opts->work_dir, "scratch directory (default: a new one in /var/tmp)");
  cmd->add_flag("--keep", opts->keep, "keep the scratch directory: snapshots and state");
  cmd->callback([opts, &ctx] {
    opts->bin_dir = SelfDir();
    Status st = demo::RunDemo(*opts);
    if (!st.ok()) {
      std::fprintf(stderr, "ctrsnap demo: %s\n", st.ToString().c_str());
      ctx.exit_code = 1;
    }
  });
}

}  // namespace ctrsnap::cli
