#include "hooks/gpu/gpu_inject.h"

#include <optional>

#include "hooks/gpu/cdi_apply.h"
#include "hooks/gpu/cdi_registry.h"
#include "hooks/gpu/gpu_legacy.h"
#include "hooks/gpu/oci_spec_edit.h"

namespace ctrsnap::gpu {

using nlohmann::json;

namespace {

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t");
  return std::string(s.substr(b, e - b + 1));
}

std::vector<std::string> SplitCommas(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string_view::npos) end = s.size();
    std::string item = Trim(s.substr(start, end - start));
    if (!item.empty()) out.push_back(std::move(item));
    start = end + 1;
  }
  return out;
}

// Applies the CDI edits of DEVICES and records them in OUT.
Status InjectCdi(json* spec, const CdiRegistry& reg, const std::vector<std::string>& devices,
                 GpuInjection* out) {
  ASSIGN_OR_RETURN(CdiContainerEdits edits, reg.EditsFor(devices));
  ASSIGN_OR_RETURN(CdiApplied applied, ApplyCdiEdits(spec, edits));
  for (const auto& d : devices) out->cdi_devices.push_back(d);
  out->device_paths.insert(out->device_paths.end(), applied.device_paths.begin(),
                           applied.device_paths.end());
  out->cdi_hooks.insert(out->cdi_hooks.end(), applied.hooks.begin(), applied.hooks.end());
  out->notes.insert(out->notes.end(), applied.notes.begin(), applied.notes.end());
  out->exclusions.env_names.insert(out->exclusions.env_names.end(), applied.env_names.begin(),
                                   applied.env_names.end());
  out->exclusions.paths.insert(out->exclusions.paths.end(), applied.mount_paths.begin(),
                               applied.mount_paths.end());
  out->exclusions.paths.insert(out->exclusions.paths.end(), applied.device_paths.begin(),
                               applied.device_paths.end());
  out->mechanism = GpuMechanism::kCdi;
  return Status::Ok();
}

Status DoInject(json* spec, const Config::Gpu& cfg, const GpuEnv& env, GpuInjection* out) {
  if (cfg.mode == GpuMode::kOff) {
    out->mechanism = GpuMechanism::kOff;
    if (EnvRequestsGpus(*spec) || !CdiDevicesFromAnnotations(*spec).value_or({}).empty()) {
      out->notes.push_back("the container asks for GPUs but gpu.mode is off: none injected");
    }
    return Status::Ok();
  }
  if (IsNvidiaRuntime(env.runtime)) {
    out->mechanism = GpuMechanism::kChained;
    out->notes.push_back("the real runtime " + std::string(BaseName(env.runtime)) +
                         " injects GPUs itself: ctrsnap leaves the spec to it");
    return Status::Ok();
  }

  ASSIGN_OR_RETURN(std::vector<std::string> annotated, CdiDevicesFromAnnotations(*spec));
  out->requested = annotated;
  std::optional<std::string> env_value;
  if (EnvRequestsGpus(*spec)) {
    env_value = LookupEnv(*spec, "NVIDIA_VISIBLE_DEVICES");
    out->requested.push_back("env:NVIDIA_VISIBLE_DEVICES=" + *env_value);
  }
  if (annotated.empty() && !env_value) return Status::Ok();

  // The spec dirs are read only when something must be resolved.
  std::optional<CdiRegistry> reg;
  auto registry = [&]() -> const CdiRegistry& {
    if (!reg) {
      reg = CdiRegistry::Load(cfg.cdi_spec_dirs);
      for (const auto& e : reg->errors()) out->notes.push_back("CDI: " + e);
    }
    return *reg;
  };

  std::vector<std::string> cdi_devices = annotated;
  bool want_hook = false;
  if (env_value) {
    const std::string existing = FindNvidiaHook(*spec, cfg.legacy_hook);
    if (!existing.empty()) {
      out->hook_path = existing;
      out->notes.push_back("an NVIDIA hook is already in the spec (" + existing +
                           "): NVIDIA_VISIBLE_DEVICES is left to it");
      if (annotated.empty()) out->mechanism = GpuMechanism::kExistingHook;
    } else {
      const std::vector<std::string> names = NvidiaEnvToCdiNames(*env_value);
      switch (cfg.mode) {
        case GpuMode::kCdi:
          cdi_devices.insert(cdi_devices.end(), names.begin(), names.end());
          break;
        case GpuMode::kLegacy:
          want_hook = true;
          break;
        case GpuMode::kAuto: {
          bool all = !names.empty();
          for (const auto& n : names) all = all && registry().Has(n);
          if (all) {
            cdi_devices.insert(cdi_devices.end(), names.begin(), names.end());
          } else {
            want_hook = true;
          }
          break;
        }
        case GpuMode::kOff:
          break;
      }
    }
  }

  if (want_hook) {
    auto hook = FindExecutable(cfg.legacy_hook, env.search_path);
    if (hook.ok()) {
      RETURN_IF_ERROR(AddNvidiaPrestartHook(spec, *hook, env.search_path));
      out->hook_added = true;
      out->hook_path = *hook;
      out->mechanism = GpuMechanism::kLegacyHook;
    } else if (cfg.mode == GpuMode::kLegacy) {
      return hook.status().WithContext("gpu.mode legacy: NVIDIA_VISIBLE_DEVICES=" + *env_value);
    } else {
      out->notes.push_back("NVIDIA_VISIBLE_DEVICES=" + *env_value +
                           " asks for GPUs, but no CDI spec provides them and " +
                           hook.status().message() + ": the container starts without GPUs");
    }
  }
  if (!cdi_devices.empty()) {
    RETURN_IF_ERROR(InjectCdi(spec, registry(), cdi_devices, out));
    if (out->hook_added) out->notes.push_back("CDI devices from annotations and the legacy hook both apply");
  }
  return Status::Ok();
}

}  // namespace

std::string_view GpuMechanismName(GpuMechanism m) {
  switch (m) {
    case GpuMechanism::kNone: return "none";
    case GpuMechanism::kCdi: return "cdi";
    case GpuMechanism::kLegacyHook: return "legacy-hook";
    case GpuMechanism::kExistingHook: return "existing-hook";
    case GpuMechanism::kChained: return "chained";
    case GpuMechanism::kOff: return "off";
  }
  return "?";
}

bool IsNvidiaRuntime(std::string_view runtime) {
  std::string_view base = BaseName(runtime);
  return base == "nvidia-container-runtime" || base == "nvidia-container-runtime.cdi" ||
         base == "nvidia-container-runtime.legacy" || base == "nvidia-container-runtime-experimental";
}

std::vector<std::string> NvidiaEnvToCdiNames(std::string_view value) {
  std::vector<std::string> out;
  for (auto& item : SplitCommas(value)) {
    if (item == "void" || item == "none") continue;
    if (ParseQualifiedName(item).ok()) {
      out.push_back(item);
    } else {
      out.push_back("nvidia.com/gpu=" + item);
    }
  }
  return out;
}

Result<std::vector<std::string>> CdiDevicesFromAnnotations(const json& spec) {
  std::vector<std::string> out;
  for (const auto& [key, value] : Annotations(spec)) {  // std::map: key order
    if (key.rfind(kCdiAnnotationPrefix, 0) != 0) continue;
    for (auto& dev : SplitCommas(value)) {
      auto q = ParseQualifiedName(dev);
      if (!q.ok()) return q.status().WithContext("annotation " + key);
      out.push_back(q->str());
    }
  }
  return out;
}

json GpuInjection::ToJson() const {
  return {{"mechanism", std::string(GpuMechanismName(mechanism))},
          {"mode", std::string(GpuModeName(mode))},
          {"requested", requested},
          {"cdi_devices", cdi_devices},
          {"device_paths", device_paths},
          {"cdi_hooks", cdi_hooks},
          {"hook_added", hook_added},
          {"hook_path", hook_path},
          {"notes", notes},
          {"exclusions", exclusions.ToJson()}};
}

Result<GpuInjection> InjectGpu(json* spec, const Config::Gpu& cfg, const GpuEnv& env) {
  if (spec == nullptr || !spec->is_object()) {
    return Status::InvalidArgument("OCI spec: not a JSON object");
  }
  GpuInjection out;
  out.mode = cfg.mode;
  // Edits go to a copy: on error the caller's spec is untouched.
  json work = *spec;
  try {
    RETURN_IF_ERROR(DoInject(&work, cfg, env, &out).WithContext("GPU injection"));
  } catch (const std::exception& e) {
    return Status::InvalidArgument(std::string("GPU injection: OCI spec: ") + e.what());
  }
  GpuExclusions from_spec = ExclusionsFromSpec(work);
  auto& x = out.exclusions;
  x.env_names.insert(x.env_names.end(), from_spec.env_names.begin(), from_spec.env_names.end());
  x.annotation_keys = from_spec.annotation_keys;
  x.Normalize();
  *spec = std::move(work);
  return out;
}

}  // namespace ctrsnap::gpu
