// The ctrsnap CLI's subcommands: each lives in its own cmd_*.cc file and
// registers itself on the root CLI::App through an AddXxxCommand function
// listed in main.cc's table. Commands parse arguments and call the libraries;
// they hold no logic of their own.
#pragma once

#include <CLI/CLI.hpp>

namespace ctrsnap::cli {

// Shared by all commands for one invocation.
struct Context {
  int exit_code = 0;  // set by the command that ran
};

using AddCommandFn = void (*)(CLI::App& root, Context& ctx);

}  // namespace ctrsnap::cli
