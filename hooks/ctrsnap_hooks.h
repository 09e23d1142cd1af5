// What ctrsnap-hook does at each hook point ctrsnap-runtime registers.
//
//   poststop    runtime's delete (runc runs poststop hooks while deleting):
//               flush the journal, seal the live generation if it holds
//               writes (label "exit"), record the exit in STATE/exit.json.
//               The daemon is still mounted then; the wrapper's delete
//               unmounts it afterwards.
//   seal-setup  createRuntime hook, only for `run`: seal the setup generation.
#pragma once

#include <string>

#include "common/status.h"
#include "hooks/oci_state.h"

namespace ctrsnap::hooks {

Status RunPoststop(const std::string& state_dir, const OciState& state);
Status RunSealSetup(const std::string& state_dir);

}  // namespace ctrsnap::hooks
