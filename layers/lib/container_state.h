// What the CLI needs to know about a container's state directory: finding
// it under the state root, STATE/container.json (written by ctrsnap-runtime;
// may be missing), space used, and git metadata of bind-mounted sources.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "common/file_filter.h"
#include "common/status.h"

namespace ctrsnap::layers {

// The fields of container.json this component reads (see shim's ContainerMeta).
struct ContainerMetaView {
  bool present = false;  // false: no container.json (a bare ctrsnap-fs state)
  std::string id;
  std::string bundle;
  std::string rootfs;
  std::string engine;  // docker | containerd | podman | cri | plain
  std::string engine_namespace;
  std::string image;
  int64_t created_unix_ns = 0;
  std::vector<std::string> env;
  std::vector<std::string> mounts;  // container paths of bind mounts and volumes, if recorded
  std::string policy_path;  // the container's "ctrsnap.policy" annotation: a policy file
};

// Reads STATE/container.json; a missing file gives present=false; malformed
// JSON is an error naming the file.
Result<ContainerMetaView> LoadContainerMeta(const std::string& state);

// ROOT/NAME when it is a state dir, else the one state dir whose name starts
// with NAME. NotFound when none matches, InvalidArgument when several do.
Result<std::string> ResolveStateDir(const std::string& root, const std::string& name);

// The names of the state dirs under ROOT (those holding fs.json), sorted.
std::vector<std::string> ListStateDirs(const std::string& root);

// Bytes allocated under PATH (st_blocks), without following symlinks.
uint64_t DiskUsage(const std::string& path);

struct GitInfo {
  std::string revision;  // commit id of HEAD
  std::string source;    // origin URL without credentials ("" if none)
};
// Git metadata of a checkout at DIR (a .git dir or a "gitdir:" file), read
// from files without running git. nullopt when DIR is not a checkout.
std::optional<GitInfo> ReadGitInfo(const std::string& dir);

// --full and --allow-secrets on top of a policy: FULL keeps what the policy
// would strip except secrets and credential files; ALLOW_SECRETS keeps those
// too. Findings are still reported (kKeepReport).
class OverrideFilter final : public FileFilter {
 public:
  OverrideFilter(const FileFilter* inner, bool full, bool allow_secrets)
      : inner_(inner), full_(full), allow_secrets_(allow_secrets) {}
  FilterDecision EvaluatePath(const FilterEntry& entry) const override;
  FilterDecision EvaluateContent(const FilterEntry& entry, int fd) const override;
  std::vector<FilterFinding> FilterEnv(std::vector<std::string>* env) const override;

 private:
  FilterDecision Adjust(FilterDecision d) const;
  const FileFilter* inner_;
  bool full_;
  bool allow_secrets_;
};

}  // namespace ctrsnap::layers
