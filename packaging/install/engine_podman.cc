// podman (containers.conf): [engine.runtimes] ctrsnap = ["PATH"], and with
// --default [engine] runtime = "ctrsnap". By default a drop-in of its own in
// /etc/containers/containers.conf.d/ (read after containers.conf since
// containers-common 0.50 / podman 4.3); --file may name containers.conf
// itself, whose other lines are kept as they are.
#include "packaging/install/engine_toml_keys.h"

namespace ctrsnap::install {
namespace {

class PodmanConfig final : public TomlKeysConfig {
 public:
  Engine engine() const override { return Engine::kPodman; }
  std::string DefaultFile() const override {
    return "/etc/containers/containers.conf.d/50-ctrsnap.conf";
  }
  std::string Service() const override { return ""; }  // no daemon: the next podman reads it

 protected:
  KeySpec RuntimeKey() const override { return {{"engine", "runtimes"}, kRuntimeName}; }
  std::string RuntimeValue(const std::string& path) const override {
    return "[" + QuoteToml(path) + "]";
  }
  KeySpec DefaultKey() const override { return {{"engine"}, "runtime"}; }
};

}  // namespace

std::unique_ptr<EngineConfig> MakePodmanConfig() { return std::make_unique<PodmanConfig>(); }

}  // namespace ctrsnap::install
