// The wrapper's commands. main() parses argv (RuncArgs), loads the Config and
// calls RunWrapper; everything not listed below is exec'ed to the real
// runtime unchanged.
//
//   create   edit the spec, start ctrsnap-fs on the root, exec the runtime
//   run      the same, then wait for the runtime (forwarding signals) and,
//            unless --detach/--keep, stop the daemon after it deleted the container
//   start    seal the setup generation, exec the runtime
//   delete   run the runtime's delete, then unmount, stop the daemon,
//            record the exit and apply retention
//
// Why the setup generation is sealed in `start`: between `create` returning
// and `start`, the container's process is parked on runc's exec fifo, so the
// live generation holds exactly the create-time writes (runc's mount-point
// stubs, prestart/createRuntime/createContainer hook files, GPU stubs) and no
// write of the container's own. A poststart hook would race with the process;
// a createRuntime hook would miss createContainer hooks. `run` gives no such
// moment, so there a createRuntime hook (ctrsnap-hook seal-setup) seals it.
#pragma once

#include <string>
#include <vector>

#include "common/config.h"
#include "shim/runc_args.h"

namespace ctrsnap::shim {

struct WrapperEnv {
  Config config;
  std::string runtime;      // real runtime: path or name on PATH
  std::string fs_binary;    // resolved ctrsnap-fs
  std::string hook_binary;  // resolved absolute ctrsnap-hook
  bool disabled_by_env = false;  // CTRSNAP_DISABLE in the wrapper's own environment
};

// Resolves the binaries of CONFIG (config value, else beside this program,
// else PATH) and refuses a runtime that is this wrapper itself.
Result<WrapperEnv> ResolveWrapperEnv(const Config& config);

// Returns the exit status for main (when it does not exec).
int RunWrapper(const RuncArgs& args, const WrapperEnv& env);

// The real runtime's argv: RUNTIME followed by ARGS.argv unchanged.
std::vector<std::string> RuntimeArgv(const WrapperEnv& env, const RuncArgs& args);

}  // namespace ctrsnap::shim
