// Every subcommand's registration function, one per cmd_<name>.cc, listed in
// kCommands in main.cc.
#pragma once

#include "layers/cli/command.h"

namespace ctrsnap::cli {

void AddDoctorCommand(CLI::App& root, Context& ctx);
void AddDriftCommand(CLI::App& root, Context& ctx);
void AddInstallCommands(CLI::App& root, Context& ctx);  // install, uninstall
void AddGpuCommand(CLI::App& root, Context& ctx);       // cmd_gpu.cc: gpu cdi-generate, inject, hook

}  // namespace ctrsnap::cli
