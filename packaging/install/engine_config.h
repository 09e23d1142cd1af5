// Registering ctrsnap-runtime with a container engine's configuration file.
//
// Each engine is an EngineConfig (engine_docker.cc, engine_containerd.cc,
// engine_podman.cc, engine_crio.cc). Planning reads the current files and
// returns the complete new contents (a Plan); nothing is written until
// ApplyPlan() (apply_plan.h). Plans are deterministic: planning again after
// applying gives an empty Plan ("already installed").
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"

namespace ctrsnap::install {

enum class Engine { kDocker, kContainerd, kPodman, kCrio };

Result<Engine> ParseEngine(std::string_view name);
std::string_view EngineName(Engine engine);
inline constexpr Engine kAllEngines[] = {Engine::kDocker, Engine::kContainerd, Engine::kPodman,
                                         Engine::kCrio};

// The runtime name engines know ctrsnap by.
inline constexpr char kRuntimeName[] = "ctrsnap";

struct InstallRequest {
  std::string file;          // the configuration file to act on (absolute)
  std::string runtime_path;  // absolute path of ctrsnap-runtime (install only)
  bool make_default = false;
};

// One file's complete new contents, or its removal (content == nullopt).
struct FileChange {
  std::string path;
  std::optional<std::string> content;
  // False for files that are entirely ctrsnap's (a drop-in it generates, its
  // state file): a backup of those in a drop-in directory could be imported.
  bool backup = true;
};

struct Plan {
  std::vector<FileChange> changes;  // empty: nothing to do
  std::vector<std::string> notes;   // said to the user as they are
};

// What a configuration file says about ctrsnap (for doctor and validation).
struct Registration {
  bool installed = false;
  bool is_default = false;
  std::string runtime_path;  // as registered
  std::string where;         // the file that registers it
};

class EngineConfig {
 public:
  virtual ~EngineConfig() = default;
  virtual Engine engine() const = 0;
  // The file `ctrsnap install ENGINE` edits when --file is not given.
  virtual std::string DefaultFile() const = 0;
  // The systemd unit to restart after a change; empty when none is needed.
  virtual std::string Service() const = 0;

  virtual Result<Plan> PlanInstall(const InstallRequest& request) const = 0;
  virtual Result<Plan> PlanUninstall(const InstallRequest& request) const = 0;
  // Reads FILE (missing: not installed); malformed: an error with file:line.
  virtual Result<Registration> Inspect(const std::string& file) const = 0;
  // Asks the engine's own binary to check FILE when the binary is present and
  // can do it (containerd config dump); OK when it cannot.
  virtual Status ValidateWithEngine(const std::string& file) const {
    (void)file;
    return Status::Ok();
  }

  // Files are those of a system mounted at root() (a Kubernetes node's / at
  // /host): absolute paths found inside configuration files (containerd's
  // imports) are looked up under it; paths written into them are not changed.
  const std::string& root() const { return root_; }
  void set_root(std::string root) { root_ = std::move(root); }

 private:
  std::string root_;
};

// ROOT: see EngineConfig::root(); empty for this system.
std::unique_ptr<EngineConfig> MakeEngineConfig(Engine engine, const std::string& root = "");

// Reads PATH; a missing file gives nullopt.
Result<std::optional<std::string>> ReadOptionalFile(const std::string& path);

// A TOML basic string literal for S.
std::string QuoteToml(std::string_view s);

}  // namespace ctrsnap::install
