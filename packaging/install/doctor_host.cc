// Host checks: config.json, the real runtime, ctrsnap's own binaries, each
// engine's registration, GPU support.
#include <dirent.h>
#include <unistd.h>

#include <algorithm>

#include "packaging/install/doctor.h"
#include "packaging/install/engine_config.h"
#include "packaging/install/run_command.h"

namespace ctrsnap::install {
namespace {

std::string FirstLine(const std::string& s) {
  size_t nl = s.find('\n');
  return nl == std::string::npos ? s : s.substr(0, nl);
}

// BIN_DIR/NAME, else PATH; CONFIGURED (from config.json) wins when set.
std::string FindBinary(const DoctorOptions& o, const std::string& name,
                       const std::string& configured) {
  if (!configured.empty()) return FindInPath(configured, o.path_env);
  if (!o.bin_dir.empty() && ::access((o.bin_dir + "/" + name).c_str(), X_OK) == 0) {
    return o.bin_dir + "/" + name;
  }
  return FindInPath(name, o.path_env);
}

std::vector<std::string> FilesIn(const std::string& dir, const std::vector<std::string>& exts) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    for (const std::string& ext : exts) {
      if (n.size() > ext.size() && n.ends_with(ext)) out.push_back(dir + "/" + n);
    }
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

CheckResult CheckConfig(const DoctorOptions& o) {
  if (!o.config_error.empty()) {
    return {"config", CheckLevel::kFail, o.config_error,
            "fix the file (see the Configuration reference in README.md)"};
  }
  return {"config", CheckLevel::kOk,
          o.config_path + (::access(o.config_path.c_str(), F_OK) == 0 ? " loaded"
                                                                       : " absent: defaults"),
          ""};
}

CheckResult CheckRuntime(const DoctorOptions& o) {
  CheckResult r{"runtime", CheckLevel::kOk, "", ""};
  std::string path = FindInPath(o.config.runtime, o.path_env);
  if (path.empty()) {
    r.level = CheckLevel::kFail;
    r.message = "real runtime \"" + o.config.runtime + "\" (config.json \"runtime\") not found";
    r.fix = "apt-get install runc, or set \"runtime\" in " + o.config_path;
    return r;
  }
  auto v = RunCommand({path, "--version"});
  if (!v.ok() || v->exit_code != 0) {
    r.level = CheckLevel::kFail;
    r.message = path + " --version fails";
    r.fix = "reinstall " + o.config.runtime;
    return r;
  }
  r.message = path + ": " + FirstLine(v->out);
  return r;
}

std::vector<CheckResult> CheckBinaries(const DoctorOptions& o) {
  std::vector<CheckResult> out;
  const std::pair<std::string, std::string> bins[] = {{"ctrsnap-fs", o.config.fs_binary},
                                                      {"ctrsnap-hook", o.config.hook_binary},
                                                      {"ctrsnap-runtime", ""}};
  for (const auto& [name, configured] : bins) {
    std::string path = FindBinary(o, name, configured);
    if (path.empty()) {
      out.push_back({name, CheckLevel::kFail,
                     name + " not found" + (configured.empty() ? "" : " at " + configured),
                     "install the ctrsnap package (dpkg -i ctrsnap_*.deb) or put " + name +
                         " beside ctrsnap"});
    } else {
      out.push_back({name, CheckLevel::kOk, path, ""});
    }
  }
  return out;
}

std::vector<CheckResult> CheckEngines(const DoctorOptions& o) {
  struct Probe {
    Engine engine;
    std::string binary;
    std::vector<std::string> files;
  };
  std::vector<std::string> podman_files = {o.containers_conf};
  for (auto& f : FilesIn(o.containers_conf_d, {".conf"})) podman_files.push_back(f);
  const Probe probes[] = {
      {Engine::kDocker, "dockerd", {o.docker_config}},
      {Engine::kContainerd, "containerd", {o.containerd_config}},
      {Engine::kPodman, "podman", podman_files},
      {Engine::kCrio, "crio", FilesIn(o.crio_conf_d, {".conf"})},
  };
  std::vector<CheckResult> out;
  for (const Probe& p : probes) {
    const std::string name(EngineName(p.engine));
    CheckResult r{"engine " + name, CheckLevel::kOk, "", ""};
    auto cfg = MakeEngineConfig(p.engine);
    Registration found;
    std::string error;
    bool is_default = false;
    for (const std::string& f : p.files) {
      auto reg = cfg->Inspect(f);
      if (!reg.ok()) {
        error = reg.status().message();
        continue;
      }
      if (reg->installed) found = *reg;
      is_default = reg->is_default || (is_default && !reg->installed);
    }
    bool present = !FindInPath(p.binary, o.path_env).empty();
    if (!error.empty()) {
      r.level = CheckLevel::kFail;
      r.message = error;
      r.fix = "fix the file by hand, then: ctrsnap install " + name;
    } else if (found.installed) {
      r.message = "ctrsnap registered in " + found.where + " (" + found.runtime_path + ")" +
                  (is_default || found.is_default ? ", the default runtime" : ", not the default");
      if (found.runtime_path.empty() || ::access(found.runtime_path.c_str(), X_OK) != 0) {
        r.level = CheckLevel::kFail;
        r.message += ", but that runtime is not an executable file";
        r.fix = "ctrsnap install " + name + " --runtime-path /usr/bin/ctrsnap-runtime";
      }
    } else if (!present) {
      r.message = name + " is not installed; nothing to register";
    } else {
      r.level = CheckLevel::kWarn;
      r.message = "ctrsnap is not registered with " + name;
      r.fix = "ctrsnap install " + name + (cfg->Service().empty() ? "" : " --restart");
    }
    out.push_back(std::move(r));
  }
  return out;
}

CheckResult CheckGpu(const DoctorOptions& o) {
  CheckResult r{"gpu", CheckLevel::kOk, "", ""};
  const GpuMode mode = o.config.gpu.mode;
  const std::string mode_name(GpuModeName(mode));
  if (mode == GpuMode::kOff) {
    r.message = "gpu.mode is off: GPU containers get no passthrough";
    return r;
  }
  std::string hook = FindInPath(o.config.gpu.legacy_hook, o.path_env);
  std::vector<std::string> specs;
  for (const std::string& dir : o.config.gpu.cdi_spec_dirs) {
    for (auto& f : FilesIn(dir, {".yaml", ".yml", ".json"})) specs.push_back(f);
  }
  std::string found = (hook.empty() ? "no " + o.config.gpu.legacy_hook : hook) + ", " +
                      std::to_string(specs.size()) + " CDI spec(s)";
  if (mode == GpuMode::kCdi && specs.empty()) {
    r.level = CheckLevel::kFail;
    r.message = "gpu.mode is cdi but no CDI spec is in the cdi_spec_dirs";
    r.fix = "nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml";
  } else if (mode == GpuMode::kLegacy && hook.empty()) {
    r.level = CheckLevel::kFail;
    r.message = "gpu.mode is legacy but " + o.config.gpu.legacy_hook + " is not in PATH";
    r.fix = "apt-get install nvidia-container-toolkit";
  } else if (mode == GpuMode::kAuto && hook.empty() && specs.empty()) {
    r.message = "gpu.mode auto: no NVIDIA hook or CDI spec here, containers run without GPUs";
  } else {
    r.message = "gpu.mode " + mode_name + ": " + found;
  }
  return r;
}

}  // namespace ctrsnap::install
