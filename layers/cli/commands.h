// Every subcommand's registration function, one per cmd_<name>.cc, listed in
// kCommands in main.cc.
#pragma once

#include "layers/cli/command.h"

namespace ctrsnap::cli {

void AddDoctorCommand(CLI::App& root, Context& ctx);
void AddDriftCommand(CLI::App& root, Context& ctx);
void AddInstallCommands(CLI::App& root, Context& ctx);  // install, uninstall
// State-directory commands (journal / control socket).
void AddSealCommand(CLI::App& root, Context& ctx);    // cmd_seal.cc
void AddStatusCommand(CLI::App& root, Context& ctx);  // cmd_status.cc
void AddLogCommand(CLI::App& root, Context& ctx);     // cmd_log.cc
void AddDiffCommand(CLI::App& root, Context& ctx);    // cmd_diff.cc
void AddSnapshotCommand(CLI::App& root, Context& ctx);  // snapshot CONTAINER|--state DIR
void AddLsCommand(CLI::App& root, Context& ctx);        // ls
void AddInspectCommand(CLI::App& root, Context& ctx);   // inspect SNAPSHOT
void AddScanCommand(CLI::App& root, Context& ctx);
void AddPolicyCommand(CLI::App& root, Context& ctx);  // policy show
void AddGpuCommand(CLI::App& root, Context& ctx);  // cmd_gpu.cc
void AddGcCommand(CLI::App& root, Context& ctx);

}  // namespace ctrsnap::cli
