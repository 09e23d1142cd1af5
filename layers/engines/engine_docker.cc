// Docker through /usr/bin/docker (Debian's 20.10 client; DOCKER_HOST selects
// the daemon). Docker before 23 loads no zstd layer and no plain OCI layout,
// but loads the dual archive, also one that leaves out layers it already has.
#include <nlohmann/json.hpp>

#include "layers/engines/engine.h"
#include "layers/engines/process.h"

namespace ctrsnap::engines {
namespace {

using nlohmann::json;

class DockerEngine final : public Engine {
 public:
  std::string_view name() const override { return "docker"; }

  Result<ContainerInfo> InspectContainer(const std::string& id) override {
    ASSIGN_OR_RETURN(std::string out, Docker({"container", "inspect", "--", id}));
    return ParseDockerContainerInspect(out);
  }

  Status ExportImage(const std::string& ref, const std::string& tar_path) override {
    return Docker({"image", "save", "-o", tar_path, ref}).status();
  }

  Result<layers::Image> BaseWithoutBlobs(const std::string& ref) override {
    ASSIGN_OR_RETURN(std::string out, Docker({"image", "inspect", "--", ref}));
    try {
      json j = json::parse(out);
      if (!j.is_array() || j.empty()) return Status::NotFound("docker: no image " + ref);
      return layers::ImageFromDockerInspect(j[0]);
    } catch (const json::exception& e) {
      return Status::Corrupt(std::string("docker image inspect: ") + e.what());
    }
  }

  Status Load(const std::string& archive_path) override {
    return Docker({"image", "load", "-i", archive_path}).status();
  }

  bool AcceptsZstd() const override { return false; }

 private:
  Result<std::string> Docker(std::vector<std::string> args) {
    ASSIGN_OR_RETURN(std::string bin, FindProgram({"/usr/bin/docker", "docker"}));
    args.insert(args.begin(), bin);
    return RunChecked(args);
  }
};

}  // namespace

std::unique_ptr<Engine> NewDockerEngine() { return std::make_unique<DockerEngine>(); }

Result<ContainerInfo> ParseDockerContainerInspect(std::string_view text) {
  try {
    json j = json::parse(text);
    if (!j.is_array() || j.empty()) return Status::NotFound("container inspect: no container");
    const json& c = j[0];
    ContainerInfo info;
    info.id = c.value("Id", "");
    info.name = c.value("Name", "");
    if (!info.name.empty() && info.name[0] == '/') info.name.erase(0, 1);
    info.image_id = c.value("Image", "");
    if (c.contains("Config") && c["Config"].is_object()) {
      info.image_ref = c["Config"].value("Image", "");
      if (c["Config"].contains("Env") && c["Config"]["Env"].is_array()) {
        info.env = c["Config"]["Env"].get<std::vector<std::string>>();
      }
    }
    if (info.image_ref.empty()) info.image_ref = c.value("ImageName", "");
    if (c.contains("Mounts") && c["Mounts"].is_array()) {
      for (const auto& m : c["Mounts"]) {
        info.mounts.push_back({m.value("Source", ""), m.value("Destination", "")});
      }
    }
    return info;
  } catch (const json::exception& e) {
    return Status::Corrupt(std::string("container inspect: ") + e.what());
  }
}

Result<std::unique_ptr<Engine>> NewEngine(std::string_view name) {
  if (name == "docker") return NewDockerEngine();
  if (name == "containerd" || name == "ctr") return NewContainerdEngine();
  if (name == "podman") return NewPodmanEngine();
  return Status::InvalidArgument("unknown engine '" + std::string(name) +
                                 "' (expected docker, containerd or podman)");
}

}  // namespace ctrsnap::engines
