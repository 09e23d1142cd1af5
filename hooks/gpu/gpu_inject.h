// InjectGpu: the one entry point ctrsnap-runtime calls on `create` (after it
// has read the bundle's config.json, before it writes it back and hands over
// to the real runtime). It decides how the container gets its GPUs and edits
// the OCI spec accordingly, keeping every field it does not touch.
//
// What the container asks for:
//   - annotations "cdi.k8s.io/<anything>" = comma-separated qualified CDI
//     device names ("nvidia.com/gpu=0,nvidia.com/gpu=1"): always CDI;
//   - env NVIDIA_VISIBLE_DEVICES not in {"", "void", "none"}: "all", indices,
//     UUIDs or qualified names. In CDI mode each value v becomes
//     "nvidia.com/gpu=v" (qualified names stay as they are).
//
// How (Config::Gpu::mode):
//   off     nothing; a note says so.
//   cdi     the env request is resolved from the CDI spec dirs; an
//           unresolvable device is an error (the container must not start
//           without its GPU).
//   legacy  the nvidia-container-runtime-hook prestart hook is added.
//   auto    CDI when every requested device resolves from a spec, else the
//           legacy hook when its binary exists, else nothing, with a warning.
// Whatever the mode:
//   - when the real runtime is nvidia-container-runtime (by basename, also
//     its .cdi/.legacy variants) nothing is done: it injects itself, and a
//     note says so;
//   - when the spec already has an NVIDIA hook in prestart/createRuntime
//     (Docker's --gpus adds one), the env request is left to it and no hook
//     is added twice; CDI annotations are still honoured;
//   - a malformed cdi.k8s.io annotation or an unresolvable annotated device
//     is an error.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "common/status.h"
#include "hooks/gpu/gpu_exclusions.h"

namespace ctrsnap::gpu {

// What InjectGpu needs from its caller besides the spec and the config.
struct GpuEnv {
  std::string runtime;      // the real OCI runtime (Config::runtime): a name or a path
  std::string search_path;  // PATH to find gpu.legacy_hook; empty = the system default
};

enum class GpuMechanism {
  kNone,          // nothing asked, or nothing could be done (see notes)
  kCdi,           // CDI edits applied
  kLegacyHook,    // we added the nvidia prestart hook
  kExistingHook,  // the engine's nvidia hook was already there; left alone
  kChained,       // the real runtime is nvidia-container-runtime; left to it
  kOff,           // gpu.mode is off
};
std::string_view GpuMechanismName(GpuMechanism m);

struct GpuInjection {
  GpuMechanism mechanism = GpuMechanism::kNone;
  GpuMode mode = GpuMode::kAuto;
  std::vector<std::string> requested;    // qualified names from annotations, then "env:NVIDIA_VISIBLE_DEVICES=v"
  std::vector<std::string> cdi_devices;  // qualified CDI devices injected
  std::vector<std::string> device_paths; // container device nodes added by CDI
  std::vector<std::string> cdi_hooks;    // "point:path" hooks added by CDI edits
  bool hook_added = false;               // the nvidia prestart hook was added by us
  std::string hook_path;                 // the nvidia hook in the spec (ours or the engine's)
  std::vector<std::string> notes;        // sentences for the log: warnings, what was skipped and why
  GpuExclusions exclusions;              // what snapshots leave out (see gpu_exclusions.h)

  bool changed_spec() const { return hook_added || !cdi_devices.empty(); }
  nlohmann::json ToJson() const;
};

Result<GpuInjection> InjectGpu(nlohmann::json* spec, const Config::Gpu& cfg, const GpuEnv& env);

// The CDI device names NVIDIA_VISIBLE_DEVICES=VALUE stands for in CDI mode
// ("all" -> nvidia.com/gpu=all, "0,GPU-x" -> nvidia.com/gpu=0, nvidia.com/gpu=GPU-x).
std::vector<std::string> NvidiaEnvToCdiNames(std::string_view value);

// The devices requested by cdi.k8s.io/* annotations, in key order then value
// order, or an error naming the annotation that is not a list of qualified names.
Result<std::vector<std::string>> CdiDevicesFromAnnotations(const nlohmann::json& spec);

// True when RUNTIME (name or path) is nvidia-container-runtime or a variant.
bool IsNvidiaRuntime(std::string_view runtime);

}  // namespace ctrsnap::gpu
