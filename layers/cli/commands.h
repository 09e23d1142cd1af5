// Declarations of every subcommand's registration function (one per cmd_*.cc).
#pragma once

#include "layers/cli/command.h"

namespace ctrsnap::cli {

void AddGcCommand(CLI::App& root, Context& ctx);

}  // namespace ctrsnap::cli
