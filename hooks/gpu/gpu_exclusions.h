// What a snapshot of a GPU container must leave out, so that the image runs
// on another host with another driver.
//
// Decisions (documented in the README's GPU section):
//   - env_names: every NVIDIA_* variable of the container (the toolkit's
//     request interface: NVIDIA_VISIBLE_DEVICES, NVIDIA_DRIVER_CAPABILITIES,
//     NVIDIA_REQUIRE_*, NVIDIA_DISABLE_REQUIRE, NVIDIA_MIG_*, ...) and every
//     variable a CDI edit set (CUDA_VISIBLE_DEVICES only then). Their values
//     come from the run (`--gpus device=GPU-uuid`, the CDI spec), not from the
//     image. The image writer takes these names from the base image config
//     instead: the base's value when it has the name (nvidia/cuda images set
//     NVIDIA_VISIBLE_DEVICES=all and must keep it), else the name is dropped.
//     ApplyToImageEnv() does exactly that.
//   - annotation_keys: every cdi.k8s.io/* annotation (a device request of
//     this host) is never copied into image labels or annotations.
//   - paths: container paths of CDI mounts (driver libraries, binaries) and
//     device nodes. The layer writer must never read these paths through the
//     container's view (they are host files bind-mounted over the root);
//     what lies under them in the generations is a mount point or a stub
//     written at setup, which the setup generation already keeps out.
//   Everything a hook or runc writes into the root before `start` (stub
//   files, soname symlinks, ld.so.conf.d entries, /etc/ld.so.cache) lands in
//   the setup generation, which ctrsnap-runtime seals at start and snapshots
//   leave out.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace ctrsnap::gpu {

struct GpuExclusions {
  std::vector<std::string> env_names;        // sorted, unique
  std::vector<std::string> annotation_keys;  // sorted, unique
  std::vector<std::string> paths;            // absolute container paths, sorted, unique

  bool empty() const { return env_names.empty() && annotation_keys.empty() && paths.empty(); }
  // True when PATH is one of paths or lies under one (component-wise).
  bool ExcludesPath(std::string_view path) const;
  bool ExcludesEnv(std::string_view name) const;
  bool ExcludesAnnotation(std::string_view key) const;

  // Rewrites an image config Env list: each excluded name takes the base
  // image's entry when BASE_ENV has it, else it is removed; other entries are
  // kept in order.
  void ApplyToImageEnv(std::vector<std::string>* env, const std::vector<std::string>& base_env) const;

  nlohmann::json ToJson() const;
  static Result<GpuExclusions> FromJson(const nlohmann::json& j);

  void Normalize();  // sorts and deduplicates the three lists
};

// The part of the exclusions a final OCI spec shows by itself: NVIDIA_* env
// names and cdi.k8s.io/* annotation keys.
GpuExclusions ExclusionsFromSpec(const nlohmann::json& spec);

// Where ctrsnap-runtime keeps a container's GPU record: STATE/gpu.json, the
// GpuInjection::ToJson() of its create ({"mechanism", ..., "exclusions": {...}}).
inline std::string GpuExclusionsPath(const std::string& state_dir) { return state_dir + "/gpu.json"; }

// The exclusions recorded in STATE/gpu.json; empty exclusions when the file
// does not exist (no GPU, or a container created before GPU support).
Result<GpuExclusions> LoadGpuExclusions(const std::string& state_dir);

inline constexpr char kCdiAnnotationPrefix[] = "cdi.k8s.io/";

}  // namespace ctrsnap::gpu
