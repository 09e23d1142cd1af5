// containerd through ctr: -a $CONTAINERD_ADDRESS (default
// /run/containerd/containerd.sock), -n $CONTAINERD_NAMESPACE (default
// "default"). `ctr images import` reads the dual archive; zstd layers are fine.
#include <nlohmann/json.hpp>

#include "common/env.h"
#include "layers/engines/engine.h"
#include "layers/engines/process.h"

namespace ctrsnap::engines {
namespace {

using nlohmann::json;

class ContainerdEngine final : public Engine {
 public:
  std::string_view name() const override { return "containerd"; }

  Result<ContainerInfo> InspectContainer(const std::string& id) override {
    ASSIGN_OR_RETURN(std::string out, Ctr({"containers", "info", id}));
    try {
      json c = json::parse(out);
      ContainerInfo info;
      info.id = c.value("ID", id);
      info.name = info.id;
      info.image_ref = c.value("Image", "");
      if (c.contains("Spec") && c["Spec"].is_object()) {
        const json& spec = c["Spec"];
        if (spec.contains("process") && spec["process"].contains("env")) {
          info.env = spec["process"]["env"].get<std::vector<std::string>>();
        }
        if (spec.contains("mounts")) {
          for (const auto& m : spec["mounts"]) {
            if (m.value("type", "") == "bind") {
              info.mounts.push_back({m.value("source", ""), m.value("destination", "")});
            }
          }
        }
      }
      return info;
    } catch (const json::exception& e) {
      return Status::Corrupt(std::string("ctr containers info: ") + e.what());
    }
  }

  Status ExportImage(const std::string& ref, const std::string& tar_path) override {
    return Ctr({"images", "export", tar_path, ref}).status();
  }

  Status Load(const std::string& archive_path) override {
    return Ctr({"images", "import", archive_path}).status();
  }

  bool AcceptsZstd() const override { return true; }

 private:
  Result<std::string> Ctr(const std::vector<std::string>& args) {
    ASSIGN_OR_RETURN(std::string bin, FindProgram({"ctr", "/usr/bin/ctr"}));
    std::vector<std::string> argv = {
        bin, "-a", GetEnvOr("CONTAINERD_ADDRESS", "/run/containerd/containerd.sock"), "-n",
        GetEnvOr("CONTAINERD_NAMESPACE", "default")};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunChecked(argv);
  }
};

}  // namespace

std::unique_ptr<Engine> NewContainerdEngine() { return std::make_unique<ContainerdEngine>(); }

}  // namespace ctrsnap::engines
