// The AddXxxCommand functions of every subcommand (one cmd_<name>.cc each),
// listed in kCommands in main.cc.
#pragma once

#include "layers/cli/command.h"

namespace ctrsnap::cli {

void AddGpuCommand(CLI::App& root, Context& ctx);  // cmd_gpu.cc

}  // namespace ctrsnap::cli
