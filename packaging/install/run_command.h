// Runs a program found on PATH (common/process.h) and finds programs on a given PATH.
#pragma once

#include <string>
#include <vector>

#include "common/process.h"
#include "common/status.h"

namespace ctrsnap::install {

using CommandResult = ProcessResult;

// ARGV[0] is looked up in PATH. Fails only when the program cannot be run.
Result<CommandResult> RunCommand(const std::vector<std::string>& argv);

// The absolute path of NAME found in PATH (or NAME itself when it has a '/'
// and is executable); nullopt-like empty string when not found.
std::string FindInPath(const std::string& name, const std::string& path_env = "");

}  // namespace ctrsnap::install
