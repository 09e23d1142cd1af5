#include "hooks/gpu/gpu_legacy.h"

#include <sys/stat.h>
#include <unistd.h>

#include "hooks/gpu/oci_spec_edit.h"

namespace ctrsnap::gpu {

using nlohmann::json;

bool EnvRequestsGpus(const json& spec) {
  auto v = LookupEnv(spec, "NVIDIA_VISIBLE_DEVICES");
  return v && !v->empty() && *v != "void" && *v != "none";
}

std::string_view BaseName(std::string_view path) {
  while (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

namespace {
bool IsExecutableFile(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}
}  // namespace

Result<std::string> FindExecutable(const std::string& name, const std::string& search_path) {
  if (name.empty()) return Status::InvalidArgument("empty executable name");
  if (name.find('/') != std::string::npos) {
    if (name[0] != '/') return Status::InvalidArgument(name + ": must be a name or an absolute path");
    if (IsExecutableFile(name)) return name;
    return Status::NotFound(name + ": no such executable");
  }
  const std::string path = search_path.empty() ? kDefaultSearchPath : search_path;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string dir = path.substr(start, end - start);
    if (!dir.empty() && dir[0] == '/') {  // relative PATH entries are ignored (no cwd tricks)
      std::string candidate = dir + "/" + name;
      if (IsExecutableFile(candidate)) return candidate;
    }
    start = end + 1;
  }
  return Status::NotFound(name + ": not found on PATH " + path);
}

std::string FindNvidiaHook(const json& spec, std::string_view configured_hook) {
  const std::string_view configured = BaseName(configured_hook);
  for (const auto& [point, hook] : HostHooks(spec)) {
    auto p = hook.find("path");
    if (p == hook.end() || !p->is_string()) continue;
    const std::string& path = p->get_ref<const std::string&>();
    std::string_view base = BaseName(path);
    if (base == "nvidia-container-runtime-hook" || base == "nvidia-container-toolkit" ||
        (!configured.empty() && base == configured)) {
      return path;
    }
  }
  return "";
}

Status AddNvidiaPrestartHook(json* spec, const std::string& hook_path, const std::string& search_path) {
  if (hook_path.empty() || hook_path[0] != '/') {
    return Status::InvalidArgument("hook path must be absolute: " + hook_path);
  }
  json hook = {{"path", hook_path},
               {"args", {std::string(BaseName(hook_path)), "prestart"}},
               {"env", {"PATH=" + (search_path.empty() ? std::string(kDefaultSearchPath) : search_path)}}};
  return AddHook(spec, "prestart", std::move(hook));
}

}  // namespace ctrsnap::gpu
