// Engine: a container engine ctrsnap loads images into and asks about
// containers. One implementation per file: engine_docker.cc,
// engine_containerd.cc, engine_podman.cc; pushing to a registry goes through
// skopeo (engine_skopeo.cc). Each reaches its engine the way the engine's own
// CLI does (DOCKER_HOST; CONTAINERD_ADDRESS + CONTAINERD_NAMESPACE;
// CONTAINER_HOST), by running that CLI.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/status.h"
#include "layers/lib/compressor.h"
#include "layers/lib/image.h"

namespace ctrsnap::engines {

struct Mount {
  std::string source;       // host path ("" for anonymous volumes)
  std::string destination;  // container path
};

struct ContainerInfo {
  std::string id;
  std::string name;
  std::string image_ref;  // what the container was created from ("bb:local")
  std::string image_id;   // "sha256:..."
  std::vector<Mount> mounts;
  std::vector<std::string> env;  // run-time environment ("NAME=value")
};

class Engine {
 public:
  virtual ~Engine() = default;
  virtual std::string_view name() const = 0;

  virtual Result<ContainerInfo> InspectContainer(const std::string& name_or_id) = 0;
  // Writes image REF as an archive ImportDockerArchive() reads.
  virtual Status ExportImage(const std::string& ref, const std::string& tar_path) = 0;
  // The image REF as a base whose layers the engine already has (blobs absent
  // from any store); Unsupported when the engine cannot load such archives.
  virtual Result<layers::Image> BaseWithoutBlobs(const std::string& ref) {
    (void)ref;
    return Status::Unsupported(std::string(name()) + " cannot load archives without base layers");
  }
  // Loads a dual archive (see layers/lib/oci_layout.h); returns the image names.
  virtual Status Load(const std::string& archive_path) = 0;
  // What this engine accepts in layers it loads.
  virtual bool AcceptsZstd() const = 0;
};

// "docker", "containerd" (or "ctr"), "podman".
Result<std::unique_ptr<Engine>> NewEngine(std::string_view name);
std::unique_ptr<Engine> NewDockerEngine();
std::unique_ptr<Engine> NewContainerdEngine();
std::unique_ptr<Engine> NewPodmanEngine();

// Pushes the image named REF_NAME in the OCI layout LAYOUT_DIR to DEST
// ("registry:5000/repo:tag") with skopeo. TLS verification is off only for
// loopback registries (127.0.0.1, localhost, [::1]).
Status PushOciLayout(const std::string& layout_dir, const std::string& ref_name,
                     const std::string& dest);

// Parses `docker|podman container inspect` JSON (an array with one element).
Result<ContainerInfo> ParseDockerContainerInspect(std::string_view json_text);

}  // namespace ctrsnap::engines
