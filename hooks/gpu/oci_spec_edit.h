// Edits of an OCI runtime spec (config.json) held as nlohmann::json.
//
// Contract: every function keeps the fields it does not know (the spec is
// passed through to the real runtime unchanged except for the edit), creates
// the objects/arrays on its path when they are missing, and returns an error
// (never throws) when a field on its path has the wrong JSON type.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace ctrsnap::gpu {

// process.env as "NAME=value" strings (non-strings skipped); empty when absent.
std::vector<std::string> ProcessEnv(const nlohmann::json& spec);
// The value of NAME in process.env (the last entry wins), or nullopt.
std::optional<std::string> LookupEnv(const nlohmann::json& spec, std::string_view name);
// The name part of "NAME=value" (the whole string when there is no '=').
std::string_view EnvName(std::string_view entry);

// Sets each "NAME=value" of ENTRIES in process.env: replaces an entry of the
// same name in place, appends the others (CDI's env semantics).
Status SetProcessEnv(nlohmann::json* spec, const std::vector<std::string>& entries);

// metadata annotations (string values only); empty when absent.
std::map<std::string, std::string> Annotations(const nlohmann::json& spec);

// linux.devices: removes an entry with DEVICE's "path", then appends DEVICE.
Status AddLinuxDevice(nlohmann::json* spec, nlohmann::json device);
// linux.resources.devices: appends an allow rule {allow, type, major, minor,
// access} unless an identical rule is there (edits stay idempotent: engines
// may hand the same bundle to create twice).
Status AddCgroupDeviceRule(nlohmann::json* spec, std::string_view type, int64_t major,
                           int64_t minor, std::string_view access);
// mounts: removes entries with MOUNT's "destination", then appends MOUNT.
Status AddMount(nlohmann::json* spec, nlohmann::json mount);
// Stable sort of mounts by the number of components of their destination, so
// a parent is mounted before what is mounted inside it (as CDI and Docker do).
Status SortMounts(nlohmann::json* spec);
// hooks.HOOK_POINT (prestart, createRuntime, ...): appends HOOK unless an
// identical hook is there.
Status AddHook(nlohmann::json* spec, std::string_view hook_point, nlohmann::json hook);
// process.user.additionalGids: appends GID unless present.
Status AddAdditionalGid(nlohmann::json* spec, uint32_t gid);

// Every hook in the lifecycle points that run on the host before the
// container starts (prestart, createRuntime), as {point, hook} pairs.
std::vector<std::pair<std::string, nlohmann::json>> HostHooks(const nlohmann::json& spec);

// The OCI hook points a spec may hold.
bool IsHookPoint(std::string_view name);

}  // namespace ctrsnap::gpu
