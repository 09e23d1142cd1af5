// Running other programs (no shell): collect their output, or send it to a
// file. The one process helper of the project; engines reach docker, ctr,
// podman and skopeo through it, and read DOCKER_HOST, CONTAINERD_ADDRESS,
// CONTAINER_HOST from the inherited environment as a user's shell would.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace ctrsnap {

struct ProcessResult {
  int exit_code = -1;  // 128+N when killed by signal N
  std::string out;
  std::string err;
};

// Runs ARGV (ARGV[0] absolute or looked up on PATH) with stdin on /dev/null
// and collects stdout and stderr. Fails only when the program cannot be run.
Result<ProcessResult> RunProcess(const std::vector<std::string>& argv);

// RunProcess, and an error naming the command and its stderr unless it exits 0.
Result<std::string> RunChecked(const std::vector<std::string>& argv);

// Runs ARGV with stdin on /dev/null and stdout+stderr appended to LOG_PATH,
// and returns its exit status. For programs whose children keep their stdio
// open after they exit (`runc create` leaves it to the container).
Result<int> RunToFile(const std::vector<std::string>& argv, const std::string& log_path);

// The first of CANDIDATES that exists and is executable (names without '/' are
// looked up on PATH), else NotFound naming them all.
Result<std::string> FindProgram(const std::vector<std::string>& candidates);

}  // namespace ctrsnap
