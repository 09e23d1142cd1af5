// ctrsnap doctor [--json]: checks this host (packaging/install/doctor.h).
// Exit status 1 when any check fails.
#include <cstdio>

#include "common/config.h"
#include "common/env.h"
#include "layers/cli/commands.h"
#include "packaging/install/doctor.h"
#include "packaging/install/service.h"

namespace ctrsnap::cli {

void AddDoctorCommand(CLI::App& root, Context& ctx) {
  auto json = std::make_shared<bool>(false);
  CLI::App* cmd = root.add_subcommand(
      "doctor", "Check the kernel, binaries, engines, state directory and GPU setup");
  cmd->add_flag("--json", *json, "print the checks as JSON");
  cmd->callback([json, &ctx] {
    install::DoctorOptions o;
    o.config_path = ConfigPath();
    auto config = Config::Load(o.config_path);
    if (config.ok()) {
      o.config = *config;
    } else {
      o.config_error = config.status().message();
      o.config.state_root = StateRoot();
    }
    o.bin_dir = install::SelfDir();
    auto results = install::RunDoctor(o);
    std::fputs(*json ? install::FormatJson(results).c_str()
                     : install::FormatTable(results).c_str(),
               stdout);
    ctx.exit_code = install::AnyFailed(results) ? 1 : 0;
  });
}

}  // namespace ctrsnap::cli
