// CRI-O: a drop-in in /etc/crio/crio.conf.d/ with
// [crio.runtime.runtimes.ctrsnap] runtime_path/runtime_type, and with
// --default [crio.runtime] default_runtime = "ctrsnap".
#include "packaging/install/engine_toml_keys.h"

namespace ctrsnap::install {
namespace {

class CrioConfig final : public TomlKeysConfig {
 public:
  Engine engine() const override { return Engine::kCrio; }
  std::string DefaultFile() const override { return "/etc/crio/crio.conf.d/99-ctrsnap.conf"; }
  std::string Service() const override { return "crio"; }

 protected:
  KeySpec RuntimeKey() const override {
    return {{"crio", "runtime", "runtimes", kRuntimeName}, "runtime_path"};
  }
  std::string RuntimeValue(const std::string& path) const override { return QuoteToml(path); }
  std::vector<std::pair<KeySpec, std::string>> ExtraKeys() const override {
    return {{{{"crio", "runtime", "runtimes", kRuntimeName}, "runtime_type"}, "\"oci\""}};
  }
  KeySpec DefaultKey() const override { return {{"crio", "runtime"}, "default_runtime"}; }
};

}  // namespace

std::unique_ptr<EngineConfig> MakeCrioConfig() { return std::make_unique<CrioConfig>(); }

}  // namespace ctrsnap::install
