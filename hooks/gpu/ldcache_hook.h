// The createContainer hook that cdi-generate's specs run
// (`ctrsnap gpu hook update-ldcache --folder DIR...`): it adds the driver
// library directories to the container's linker configuration and cache,
// as nvidia-ctk's update-ldcache hook does, without the NVIDIA toolkit.
//
// It runs on the host in the container's mount namespace before pivot_root
// (runc, crun), with the OCI state on stdin. The root is found from the
// state's bundle (config.json root.path). It writes
// ROOT/etc/ld.so.conf.d/00-ctrsnap-gpu.conf (fd-relative, never following a
// symlink of the container's tree) and runs the host's static ldconfig
// chrooted into ROOT (`ldconfig -r ROOT DIR...`): no binary of the
// container runs on the host. Both writes happen before `start`, so they land
// in ctrsnap's setup generation and stay out of snapshots.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ctrsnap::gpu {

inline constexpr char kLdConfPath[] = "etc/ld.so.conf.d/00-ctrsnap-gpu.conf";

// The absolute root path of the container described by the OCI state JSON STATE.
Result<std::string> RootfsFromState(std::string_view state);

// Writes the ld.so.conf.d entry for FOLDERS (absolute container paths) into
// ROOTFS, then runs LDCONFIG -r ROOTFS FOLDERS....
Status UpdateContainerLdCache(const std::string& rootfs, const std::vector<std::string>& folders,
                              const std::string& ldconfig = "/sbin/ldconfig");

}  // namespace ctrsnap::gpu
