#include "hooks/ctrsnap_hooks.h"

#include "common/control_client.h"
#include "common/log.h"
#include "shim/container_meta.h"
#include "shim/fs_daemon.h"

namespace ctrsnap::hooks {

Status RunPoststop(const std::string& state_dir, const OciState& state) {
  Status first;
  if (shim::StateLocked(state_dir)) {
    auto flushed = ControlCall(state_dir, {{"op", "flush"}}, 10000);
    if (!flushed.ok()) first = flushed.status().WithContext("flush");
    auto sealed = shim::FsSeal(state_dir, "exit", /*if_not_empty=*/true);
    if (!sealed.ok() && first.ok()) first = sealed.status();
  } else {
    LogWarn("poststop: no ctrsnap-fs running for " + state_dir);
  }
  shim::ExitRecord exit;
  exit.exited_unix_ns = shim::NowUnixNs();
  exit.status = state.status.empty() ? "stopped" : state.status;
  exit.by = "poststop";
  Status saved = exit.Save(state_dir);
  if (!saved.ok() && first.ok()) first = saved;
  return first;
}

Status RunSealSetup(const std::string& state_dir) {
  return shim::FsSeal(state_dir, "setup", /*if_not_empty=*/false).status();
}

}  // namespace ctrsnap::hooks
