// Declarations of every subcommand's registration function (see command.h).
#pragma once

#include "layers/cli/command.h"

namespace ctrsnap::cli {

void AddDriftCommand(CLI::App& root, Context& ctx);

}  // namespace ctrsnap::cli
