#include "shim/gpu_editor.h"
#include "shim/spec.h"
#include "shim/spec_editor.h"

namespace ctrsnap::shim {

Status CtrsnapHooksEditor::Edit(nlohmann::json& spec, const SpecContext& ctx) const {
  Hook poststop;
  poststop.path = ctx.hook_binary;
  poststop.args = {"ctrsnap-hook", "poststop", "--state", ctx.state_dir};
  poststop.timeout = 60;
  RETURN_IF_ERROR(UpsertHook(spec, "poststop", poststop));
  Hook setup;
  setup.path = ctx.hook_binary;
  setup.args = {"ctrsnap-hook", "seal-setup", "--state", ctx.state_dir};
  setup.timeout = 30;
  if (ctx.command == "run") {
    RETURN_IF_ERROR(UpsertHook(spec, "createRuntime", setup));
  } else {
    // `start` seals the setup generation; a hook left by an earlier `run`
    // of the same bundle would seal it too early.
    RemoveHook(spec, "createRuntime", setup);
  }
  return Status::Ok();
}

std::vector<std::unique_ptr<SpecEditor>> DefaultSpecEditors() {
  std::vector<std::unique_ptr<SpecEditor>> editors;
  editors.push_back(std::make_unique<CtrsnapHooksEditor>());
  // GPU passthrough (legacy nvidia hook, CDI), after ours.
  editors.push_back(std::make_unique<GpuEditor>());
  return editors;
}

Status ApplySpecEditors(const std::vector<std::unique_ptr<SpecEditor>>& editors,
                        nlohmann::json& spec, const SpecContext& ctx) {
  if (!spec.is_object()) return Status::InvalidArgument("spec is not an object");
  for (const auto& editor : editors) {
    RETURN_IF_ERROR(editor->Edit(spec, ctx).WithContext("spec editor " + std::string(editor->name())));
  }
  return Status::Ok();
}

}  // namespace ctrsnap::shim
