// podman through its CLI. CONTAINER_HOST makes podman talk to a service
// (podman's own rule); CTRSNAP_PODMAN_FLAGS adds global flags, e.g.
// "--storage-driver vfs --root DIR --runroot DIR" for a private store.
#include <sstream>

#include "common/env.h"
#include "layers/engines/engine.h"
#include "layers/engines/process.h"

namespace ctrsnap::engines {
namespace {

class PodmanEngine final : public Engine {
 public:
  std::string_view name() const override { return "podman"; }

  Result<ContainerInfo> InspectContainer(const std::string& id) override {
    ASSIGN_OR_RETURN(std::string out, Podman({"container", "inspect", id}));
    return ParseDockerContainerInspect(out);
  }

  Status ExportImage(const std::string& ref, const std::string& tar_path) override {
    return Podman({"image", "save", "--format", "docker-archive", "-o", tar_path, ref}).status();
  }

  Status Load(const std::string& archive_path) override {
    return Podman({"image", "load", "-i", archive_path}).status();
  }

  bool AcceptsZstd() const override { return true; }

 private:
  Result<std::string> Podman(const std::vector<std::string>& args) {
    ASSIGN_OR_RETURN(std::string bin, FindProgram({"podman", "/usr/bin/podman"}));
    std::vector<std::string> argv = {bin};
    std::istringstream flags(GetEnvOr("CTRSNAP_PODMAN_FLAGS", ""));
    for (std::string f; flags >> f;) argv.push_back(f);
    argv.insert(argv.end(), args.begin(), args.end());
    return RunChecked(argv);
  }
};

}  // namespace

std::unique_ptr<Engine> NewPodmanEngine() { return std::make_unique<PodmanEngine>(); }

}  // namespace ctrsnap::engines
