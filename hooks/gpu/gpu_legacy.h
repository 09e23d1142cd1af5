// The legacy NVIDIA path, as nvidia-container-runtime does it: a prestart
// hook running `nvidia-container-runtime-hook prestart`, which calls
// nvidia-container-cli to mount the driver and devices into the container.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace ctrsnap::gpu {

// The system PATH used when the caller has none.
inline constexpr char kDefaultSearchPath[] =
    "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

// True when NVIDIA_VISIBLE_DEVICES asks for GPUs: set, and not "", "void" or "none".
bool EnvRequestsGpus(const nlohmann::json& spec);

// The basename of PATH ("/usr/bin/x" -> "x").
std::string_view BaseName(std::string_view path);

// An executable regular file named NAME: NAME itself when it contains a '/',
// else the first match in SEARCH_PATH (':'-separated; empty = kDefaultSearchPath).
Result<std::string> FindExecutable(const std::string& name, const std::string& search_path);

// The path of a prestart or createRuntime hook whose binary is an NVIDIA
// container hook (basename nvidia-container-runtime-hook, nvidia-container-toolkit,
// or CONFIGURED_HOOK's basename), or "" when there is none. Docker's --gpus and
// nvidia-container-runtime add such a hook.
std::string FindNvidiaHook(const nlohmann::json& spec, std::string_view configured_hook);

// Appends the prestart hook {path: HOOK_PATH, args: [basename, "prestart"],
// env: ["PATH=SEARCH_PATH"]}. REQUIRES: HOOK_PATH absolute.
Status AddNvidiaPrestartHook(nlohmann::json* spec, const std::string& hook_path,
                             const std::string& search_path);

}  // namespace ctrsnap::gpu
