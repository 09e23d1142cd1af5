// Applies CDI container edits to an OCI runtime spec, as the reference
// library's ContainerEdits.Apply does:
//   - env: "NAME=value" replaces the entry of that name, else is appended;
//   - deviceNodes: hostPath defaults to path; a missing type or major is read
//     from the host node (lstat of hostPath; a type that disagrees with the
//     host node is an error); uid/gid default to process.user's when > 0; the
//     node replaces one with the same path in linux.devices; block and char
//     nodes also get a linux.resources.devices allow rule (access
//     "permissions", "rwm" when empty, "" when "none");
//   - mounts: replace a mount with the same destination, then all mounts are
//     stably sorted by destination depth;
//   - hooks: appended to the hook point named by hookName;
//   - additionalGids: appended to process.user.additionalGids (0 skipped);
//   - intelRdt and netDevices: not applied; a note says so.
// Unlike the reference, an identical cgroup rule or hook is not added twice,
// so applying the same edits again leaves the spec as it was.
// Device nodes stay in the spec (linux.devices + cgroup rules), so a
// systemd daemon-reload that rewrites the cgroup keeps the GPU reachable.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "hooks/gpu/cdi_spec.h"

namespace ctrsnap::gpu {

struct CdiApplied {
  std::vector<std::string> device_paths;     // container paths of device nodes added
  std::vector<std::string> mount_paths;      // container paths of mounts added
  std::vector<std::string> mount_sources;    // their host paths, same order
  std::vector<std::string> env_names;        // names set by env edits
  std::vector<std::string> hooks;            // "point:path" of hooks added
  std::vector<std::string> notes;            // what was not applied, and why
};

Result<CdiApplied> ApplyCdiEdits(nlohmann::json* spec, const CdiContainerEdits& edits);

}  // namespace ctrsnap::gpu
