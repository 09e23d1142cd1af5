// ctrsnap: the user-facing CLI. Subcommands are registered from the table below.
#include <cstdio>

#include "common/program.h"
#include "layers/cli/commands.h"

namespace ctrsnap::cli {

// One entry per subcommand, in the order --help lists them.
static constexpr AddCommandFn kCommands[] = {
    AddDemoCommand,
    AddSnapshotCommand,
    AddLsCommand,
    AddInspectCommand,
    AddStatusCommand,
    AddSealCommand,
    AddCompactCommand,
    AddLogCommand,
    AddDiffCommand,
    AddScanCommand,
    AddPolicyCommand,
    AddDriftCommand,
    AddGcCommand,
    AddGpuCommand,
    AddInstallCommands,
    AddDoctorCommand,
};

}  // namespace ctrsnap::cli

int main(int argc, char** argv) {
  using namespace ctrsnap::cli;  // NOLINT: main only
  CLI::App app{
      "ctrsnap: clean, incremental, point-in-time snapshots of running containers as OCI images",
      "ctrsnap"};
  app.require_subcommand(0, 1);
  app.set_version_flag("-V,--version", [] {
    ctrsnap::PrintVersion("ctrsnap");
    return std::string();
  });
  Context ctx;
  for (AddCommandFn add : kCommands) {
    if (add != nullptr) add(app, ctx);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help/--version exit 0; every usage error is 2, the project's
    // convention (CLI11's own codes, e.g. 106, would read as "found" in CI).
    return app.exit(e) == 0 ? 0 : 2;
  }
  if (app.get_subcommands().empty()) {
    std::fputs(app.help().c_str(), stdout);
    return 0;
  }
  return ctx.exit_code;
}
