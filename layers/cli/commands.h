// Every subcommand's registration function (one per cmd_<name>.cc), listed
// in main.cc's kCommands table.
#pragma once

#include "layers/cli/command.h"

namespace ctrsnap::cli {

// State-directory commands (journal / control socket).
void AddSealCommand(CLI::App& root, Context& ctx);    // cmd_seal.cc
void AddStatusCommand(CLI::App& root, Context& ctx);  // cmd_status.cc
void AddLogCommand(CLI::App& root, Context& ctx);     // cmd_log.cc
void AddDiffCommand(CLI::App& root, Context& ctx);    // cmd_diff.cc

// State retention.
void AddGcCommand(CLI::App& root, Context& ctx);  // cmd_gc.cc

}  // namespace ctrsnap::cli
