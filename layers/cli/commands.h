// Every subcommand's registration function, one per cmd_<name>.cc, listed in
// kCommands in main.cc.
#pragma once

#include "layers/cli/command.h"

namespace ctrsnap::cli {

void AddCompactCommand(CLI::App& root, Context& ctx);
void AddDemoCommand(CLI::App& root, Context& ctx);
void AddDiffCommand(CLI::App& root, Context& ctx);
void AddDoctorCommand(CLI::App& root, Context& ctx);
void AddDriftCommand(CLI::App& root, Context& ctx);
void AddGcCommand(CLI::App& root, Context& ctx);
void AddGpuCommand(CLI::App& root, Context& ctx);
void AddInspectCommand(CLI::App& root, Context& ctx);
void AddInstallCommands(CLI::App& root, Context& ctx);
void AddLogCommand(CLI::App& root, Context& ctx);
void AddLsCommand(CLI::App& root, Context& ctx);
void AddPolicyCommand(CLI::App& root, Context& ctx);
void AddScanCommand(CLI::App& root, Context& ctx);
void AddSealCommand(CLI::App& root, Context& ctx);
void AddSnapshotCommand(CLI::App& root, Context& ctx);
void AddStatusCommand(CLI::App& root, Context& ctx);

}  // namespace ctrsnap::cli
