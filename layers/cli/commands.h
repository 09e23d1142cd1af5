// Every subcommand's registration function, one per cmd_<name>.cc, listed in
// kCommands in main.cc.
#pragma once

#include "layers/cli/command.h"

namespace ctrsnap::cli {

void AddInstallCommands(CLI::App& root, Context& ctx);  // install, uninstall
void AddDoctorCommand(CLI::App& root, Context& ctx);

}  // namespace ctrsnap::cli
