// `ctrsnap gpu cdi-generate`: a CDI spec (kind nvidia.com/gpu) for the NVIDIA
// devices and driver files of this host, like `nvidia-ctk cdi generate`, so
// that GPUs work through CDI alone when the NVIDIA toolkit is not installed.
//
// Discovery, under a host root ROOT ("/" normally; a fake tree in tests).
// Every path below is a path inside ROOT; the spec's hostPath is ROOT+path
// and its containerPath is path:
//   - device nodes: /dev/nvidia<N> (one CDI device "N" each, plus one named by
//     the GPU's UUID when /proc/driver/nvidia/gpus/*/information tells it, and
//     "all"), /dev/nvidiactl, /dev/nvidia-uvm, /dev/nvidia-uvm-tools,
//     /dev/nvidia-modeset (spec-level: every device needs them). Only
//     character devices count.
//   - driver libraries: native-ABI entries of ROOT/etc/ld.so.cache, and files
//     in each --lib-dir, whose name matches libcuda.so*, libcudadebugger.so*,
//     libnvidia-*.so* (not libnvidia-container*), libnvcuvid.so*,
//     libnvoptix.so*, lib{GLX,EGL,GLESv2,GLESv1_CM}_nvidia.so*. Each is
//     mounted read-only (bind, nosuid, nodev) at its own path; a name that is
//     a symlink is mounted as the file it resolves to (inside ROOT), so the
//     soname (libcuda.so.1) works even where nothing refreshes the
//     container's linker cache.
//   - binaries nvidia-smi, nvidia-debugdump, nvidia-persistenced,
//     nvidia-cuda-mps-control, nvidia-cuda-mps-server from --bin-dir and PATH,
//     mounted read-only at their own path.
//   - env NVIDIA_VISIBLE_DEVICES=void, so that an nvidia legacy hook that is
//     also present (Docker's --gpus) does not inject the driver a second time.
//   - when LDCACHE_HOOK is set, a createContainer hook
//     `LDCACHE_HOOK gpu hook update-ldcache --folder DIR...` that adds the
//     library directories to the container's linker cache (ldcache_hook.h):
//     needed for directories outside the linker's default path, such as
//     /usr/local/nvidia/lib64.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/status.h"
#include "hooks/gpu/cdi_spec.h"

namespace ctrsnap::gpu {

struct CdiGenerateOptions {
  std::string root = "/";
  std::vector<std::string> lib_dirs;  // paths inside root
  std::vector<std::string> bin_dirs;  // paths inside root, searched before search_path
  std::string search_path;            // PATH (inside root); empty = the system default
  std::string ldcache_hook;           // absolute path of the ctrsnap binary, or "" for none
  std::string version = "0.5.0";      // cdiVersion written (hostPath needs 0.5.0)
};

struct HostDeviceNode {
  std::string path;  // inside root: "/dev/nvidia0"
  uint32_t major = 0, minor = 0;
};

struct HostGpu {
  int index = 0;         // N of /dev/nvidiaN
  std::string uuid;      // "GPU-..." or ""
  HostDeviceNode node;
};

struct HostGpuFiles {
  std::vector<HostGpu> gpus;                 // by index
  std::vector<HostDeviceNode> control_nodes; // nvidiactl, nvidia-uvm, ...
  // (container path, path inside root of the real file) per library name.
  std::vector<std::pair<std::string, std::string>> libraries;
  std::vector<std::string> binaries;         // paths inside root
  std::vector<std::string> library_dirs;     // container directories holding libraries
  std::vector<std::string> notes;            // what was not found
};

// True when the file name FILE is an NVIDIA driver library cdi-generate takes.
bool IsDriverLibraryName(std::string_view file);

Result<HostGpuFiles> DiscoverHostGpu(const CdiGenerateOptions& opts);
// REQUIRES: files has at least one GPU.
Result<CdiSpec> BuildNvidiaCdiSpec(const HostGpuFiles& files, const CdiGenerateOptions& opts);

}  // namespace ctrsnap::gpu
