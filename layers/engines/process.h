// The engines reach docker, ctr, podman and skopeo through their CLIs with the
// project's one process helper (common/process.h), which inherits
// DOCKER_HOST, CONTAINERD_ADDRESS/CONTAINERD_NAMESPACE and CONTAINER_HOST
// exactly as a user's shell would.
#pragma once

#include "common/process.h"

namespace ctrsnap::engines {

using ::ctrsnap::FindProgram;
using ::ctrsnap::ProcessResult;
using ::ctrsnap::RunChecked;
using ::ctrsnap::RunProcess;

}  // namespace ctrsnap::engines
