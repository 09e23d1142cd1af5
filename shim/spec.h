// Reading and editing an OCI runtime spec (BUNDLE/config.json) in place.
//
// The spec is kept as an nlohmann::json document so that every field,
// including ones this code does not know, reaches the real runtime unchanged;
// edits touch only the keys they name. Nothing here throws: json type errors
// in a hostile or malformed spec become InvalidArgument.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace ctrsnap::shim {

// Parses TEXT as a spec; SOURCE names it in errors. The root must be an object.
Result<nlohmann::json> ParseSpec(std::string_view text, const std::string& source);
Result<nlohmann::json> LoadSpec(const std::string& bundle);
// Writes SPEC to BUNDLE/config.json atomically (temp file, fsync, rename).
Status SaveSpec(const std::string& bundle, const nlohmann::json& spec);

// root.path made absolute against BUNDLE (itself absolute). Errors when the
// spec has no root.path (e.g. a VM runtime's spec): nothing to wrap.
Result<std::string> RootPath(const nlohmann::json& spec, const std::string& bundle);
bool RootReadonly(const nlohmann::json& spec);

// The value of annotation KEY, or nullopt.
std::optional<std::string> Annotation(const nlohmann::json& spec, const std::string& key);
// process.env as a list of "K=V" strings (non-strings skipped).
std::vector<std::string> ProcessEnv(const nlohmann::json& spec);
// The value of K in process.env, or nullopt.
std::optional<std::string> EnvValue(const nlohmann::json& spec, const std::string& key);

// Why ctrsnap must leave this container alone, or nullopt: the annotation
// `ctrsnap.disable`, or process.env `ctrsnap.disable` / `CTRSNAP_DISABLE`,
// set to anything but "", "0", "false".
std::optional<std::string> DisabledBy(const nlohmann::json& spec);
bool Truthy(const std::string& value);

// One OCI hook (config.json hooks.<point>[]).
struct Hook {
  std::string path;
  std::vector<std::string> args;  // args[0] is the program name, as in the spec
  std::vector<std::string> env;
  int timeout = 0;                // seconds; 0 = none
  nlohmann::json ToJson() const;
};

// Adds HOOK to hooks.<POINT>, or replaces the hook already there that has the
// same program basename and the same args[1] (the hook verb): adding twice,
// or again after an upgrade moved the binary, leaves exactly one.
Status UpsertHook(nlohmann::json& spec, const std::string& point, const Hook& hook);
// Removes from hooks.<POINT> every hook that UpsertHook would replace with HOOK.
void RemoveHook(nlohmann::json& spec, const std::string& point, const Hook& hook);
// How many hooks at POINT have program basename BASENAME (tests, GPU dedup).
size_t CountHooks(const nlohmann::json& spec, const std::string& point,
                  const std::string& basename);

}  // namespace ctrsnap::shim
