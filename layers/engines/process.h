// RunProcess: runs a program (no shell) and collects its exit status and
// output. Engines reach docker, ctr, podman and skopeo through their CLIs,
// which read DOCKER_HOST, CONTAINERD_ADDRESS/CONTAINERD_NAMESPACE and
// CONTAINER_HOST from the environment exactly as a user's shell would.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"

namespace ctrsnap::engines {

struct ProcessResult {
  int exit_code = -1;  // 128+N when killed by signal N
  std::string out;
  std::string err;
};

// ARGV[0] is an absolute path or a name looked up on PATH.
Result<ProcessResult> RunProcess(const std::vector<std::string>& argv);

// RunProcess, and an error naming the command and its stderr unless it exits 0.
Result<std::string> RunChecked(const std::vector<std::string>& argv);

// The first of CANDIDATES that exists and is executable, else NotFound.
Result<std::string> FindProgram(const std::vector<std::string>& candidates);

}  // namespace ctrsnap::engines
