#include "shim/gpu_editor.h"

#include <cstdlib>

#include "common/file_util.h"
#include "common/log.h"
#include "hooks/gpu/gpu_inject.h"
#include "hooks/gpu/ldcache_hook.h"

namespace ctrsnap::shim {

Status GpuEditor::Edit(nlohmann::json& spec, const SpecContext& ctx) const {
  const Config defaults;
  const Config& config = ctx.config != nullptr ? *ctx.config : defaults;
  gpu::GpuEnv env;
  env.runtime = config.runtime;
  const char* path = std::getenv("PATH");  // NOLINT(concurrency-mt-unsafe): read before threads
  env.search_path = path != nullptr ? path : "";
  ASSIGN_OR_RETURN(gpu::GpuInjection injection, gpu::InjectGpu(&spec, config.gpu, env));
  if (injection.mechanism != gpu::GpuMechanism::kNone) {
    std::string what = "gpu: " + ctx.id + ": " + std::string(gpu::GpuMechanismName(injection.mechanism));
    for (const auto& d : injection.cdi_devices) what += " " + d;
    if (injection.hook_added) what += " hook " + injection.hook_path;
    LogInfo(what);
  }
  // `run` seals the setup generation from a createRuntime hook, which runs
  // before CDI createContainer hooks: what the ldcache hook writes would land
  // in the user's generation, so it is excluded by path instead.
  bool cdi_create_container_hook = false;
  for (const auto& h : injection.cdi_hooks) {
    cdi_create_container_hook |= h.rfind("createContainer:", 0) == 0;
  }
  if (ctx.command == "run" && cdi_create_container_hook) {
    injection.exclusions.paths.push_back("/etc/ld.so.cache");
    injection.exclusions.paths.push_back("/" + std::string(gpu::kLdConfPath));
    injection.exclusions.Normalize();
    injection.notes.push_back("run: the CDI createContainer hooks write after the setup seal; "
                              "/etc/ld.so.cache and the ld.so.conf.d entry are excluded by path");
  }
  for (const auto& note : injection.notes) LogWarn("gpu: " + ctx.id + ": " + note);
  if (ctx.state_dir.empty()) return Status::Ok();
  // A second create of the same bundle (or a resumed state dir) sees a spec
  // that is already edited and would record less: keep the union.
  if (auto before = gpu::LoadGpuExclusions(ctx.state_dir); before.ok()) {
    auto& x = injection.exclusions;
    x.env_names.insert(x.env_names.end(), before->env_names.begin(), before->env_names.end());
    x.annotation_keys.insert(x.annotation_keys.end(), before->annotation_keys.begin(),
                             before->annotation_keys.end());
    x.paths.insert(x.paths.end(), before->paths.begin(), before->paths.end());
    x.Normalize();
  }
  if (injection.mechanism == gpu::GpuMechanism::kNone && injection.exclusions.empty()) {
    return Status::Ok();
  }
  return WriteFileAtomic(gpu::GpuExclusionsPath(ctx.state_dir), injection.ToJson().dump(2) + "\n", 0600);
}

}  // namespace ctrsnap::shim
