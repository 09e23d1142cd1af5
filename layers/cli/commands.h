// Every subcommand's registration function, one per cmd_<name>.cc, listed in
// kCommands in main.cc.
#pragma once

#include "layers/cli/command.h"

namespace ctrsnap::cli {

void AddSnapshotCommand(CLI::App& root, Context& ctx);  // snapshot CONTAINER|--state DIR
void AddLsCommand(CLI::App& root, Context& ctx);        // ls
void AddInspectCommand(CLI::App& root, Context& ctx);   // inspect SNAPSHOT

}  // namespace ctrsnap::cli
