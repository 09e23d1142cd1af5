// Every subcommand's registration function, one per cmd_<name>.cc, listed in
// kCommands in main.cc.
#pragma once

#include "layers/cli/command.h"

namespace ctrsnap::cli {

void AddScanCommand(CLI::App& root, Context& ctx);
void AddPolicyCommand(CLI::App& root, Context& ctx);  // policy show

}  // namespace ctrsnap::cli
