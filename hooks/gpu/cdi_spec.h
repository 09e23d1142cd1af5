// The Container Device Interface (CDI) spec file: model, parser (JSON and
// YAML), validation, and qualified device names ("vendor.com/class=name").
//
// Versions 0.3.0 to 1.1.0 are accepted, as the reference library
// (tags.cncf.io/container-device-interface) does; a spec must also declare at
// least the version its features need (mount "type" needs 0.4.0, device node
// "hostPath" and device names starting with a digit 0.5.0, annotations and a
// dot in the class 0.6.0, intelRdt and additionalGids 0.7.0, netDevices
// 1.1.0). Unknown fields are an error, as the reference library's strict
// parser makes them.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace ctrsnap::gpu {

struct CdiDeviceNode {
  std::string path;       // in the container; required
  std::string host_path;  // on the host; empty = path
  std::string type;       // "", "c", "b", "u", "p"
  int64_t major = 0;      // 0 = stat the host node
  int64_t minor = 0;
  std::optional<uint32_t> file_mode;  // os.FileMode bits (permissions only here)
  std::string permissions;            // cgroup access "rwm" subset; "none" = no rule access
  std::optional<uint32_t> uid, gid;
};

struct CdiMount {
  std::string host_path;
  std::string container_path;
  std::vector<std::string> options;
  std::string type;
};

struct CdiHook {
  std::string hook_name;  // prestart, createRuntime, createContainer, startContainer, poststart, poststop
  std::string path;
  std::vector<std::string> args;
  std::vector<std::string> env;
  std::optional<int64_t> timeout;
};

struct CdiContainerEdits {
  std::vector<std::string> env;
  std::vector<CdiDeviceNode> device_nodes;
  std::vector<CdiMount> mounts;
  std::vector<CdiHook> hooks;
  std::vector<uint32_t> additional_gids;
  bool has_intel_rdt = false;     // parsed, then ignored (with a note) when applied
  bool has_net_devices = false;   // same

  bool empty() const;
  // Appends OTHER's edits after this one's (CDI's ContainerEdits.Append).
  void Append(const CdiContainerEdits& other);
};

struct CdiDevice {
  std::string name;
  std::map<std::string, std::string> annotations;
  CdiContainerEdits edits;
};

struct CdiSpec {
  std::string version;  // "cdiVersion"
  std::string kind;     // "vendor.com/class"
  std::string vendor, cls;
  std::map<std::string, std::string> annotations;
  std::vector<CdiDevice> devices;
  CdiContainerEdits edits;  // spec-level edits
  std::string path;         // file it came from (for messages)
};

// Parses and validates a CDI spec from TEXT (JSON, or YAML when not JSON).
// SOURCE names the file in errors.
Result<CdiSpec> ParseCdiSpec(std::string_view text, const std::string& source);
// The same from an already decoded JSON document.
Result<CdiSpec> CdiSpecFromJson(const nlohmann::json& doc, const std::string& source);
// Back to the CDI JSON shape (for cdi-generate, and round-trip tests).
nlohmann::json CdiSpecToJson(const CdiSpec& spec);
// YAML text of a JSON document (yaml-cpp emitter; object keys sorted, as nlohmann::json keeps them).
std::string JsonToYaml(const nlohmann::json& doc);

// The oldest CDI version that has every feature SPEC uses ("0.3.0" at least).
std::string MinimumCdiVersion(const CdiSpec& spec);
bool IsKnownCdiVersion(std::string_view version);

// Qualified device names.
struct QualifiedName {
  std::string vendor, cls, name;
  std::string kind() const { return vendor + "/" + cls; }
  std::string str() const { return vendor + "/" + cls + "=" + name; }
};
Result<QualifiedName> ParseQualifiedName(std::string_view device);
Status ValidateVendorName(std::string_view vendor);
Status ValidateClassName(std::string_view cls);
Status ValidateDeviceName(std::string_view name);

}  // namespace ctrsnap::gpu
