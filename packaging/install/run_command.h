// Runs a program and collects its exit status and output (no shell).
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace ctrsnap::install {

struct CommandResult {
  int exit_code = -1;  // -1: killed by a signal
  std::string out;     // standard output
  std::string err;     // standard error
};

// ARGV[0] is looked up in PATH. Fails only when the program cannot be run.
Result<CommandResult> RunCommand(const std::vector<std::string>& argv);

// The absolute path of NAME found in PATH (or NAME itself when it has a '/'
// and is executable); nullopt-like empty string when not found.
std::string FindInPath(const std::string& name, const std::string& path_env = "");

}  // namespace ctrsnap::install
