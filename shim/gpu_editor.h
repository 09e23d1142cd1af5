// GpuEditor: the GPU passthrough step of ctrsnap-runtime's create path
// (hooks/gpu/gpu_inject.h does the work). It runs after CtrsnapHooksEditor,
// so our poststop/seal hooks are already in the spec, and records what it
// did in STATE/gpu.json (gpu::GpuExclusionsPath) for the snapshot side:
// gpu::LoadGpuExclusions(state_dir) gives the env names, annotations and
// container paths a snapshot must leave out.
#pragma once

#include "shim/spec_editor.h"

namespace ctrsnap::shim {

class GpuEditor final : public SpecEditor {
 public:
  std::string_view name() const override { return "gpu"; }
  Status Edit(nlohmann::json& spec, const SpecContext& ctx) const override;
};

}  // namespace ctrsnap::shim
