// ContainerMeta: STATE/container.json, written by ctrsnap-runtime on create
// and read by the CLI (`ctrsnap ls`, `snapshot`), the hook and gc.
//
//   {"version":1, "id":"...", "bundle":"/abs", "rootfs":"/abs (original root, also the mount point)",
//    "engine":"docker|containerd|podman|cri|plain", "engine_namespace":"moby",
//    "image":"" (known from annotations; else looked up later), "cgroups_path":"...",
//    "runtime":"runc", "runtime_root":"" (--root given to the runtime),
//    "readonly_root":false, "created_unix_ns":N, "starts":N (creates so far),
//    "env":["K=V",...], "annotations":{...}}
//
// ExitRecord: STATE/exit.json, written by `ctrsnap-hook poststop` (or by the
// runtime's delete when the hook did not run):
//   {"exited_unix_ns":N, "status":"stopped", "exit_code":null|N, "by":"poststop|delete"}
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace ctrsnap::shim {

struct ContainerMeta {
  static constexpr int kVersion = 1;

  std::string id;
  std::string bundle;
  std::string rootfs;
  std::string engine;  // docker, containerd, cri, podman, plain
  std::string engine_namespace;
  std::string image;
  std::string cgroups_path;
  std::string runtime;
  std::string runtime_root;
  bool readonly_root = false;
  int64_t created_unix_ns = 0;
  uint64_t starts = 0;
  std::vector<std::string> env;
  nlohmann::json annotations = nlohmann::json::object();

  std::string ToJson() const;
  static Result<ContainerMeta> FromJson(std::string_view text, const std::string& source);
  static Result<ContainerMeta> Load(const std::string& state_dir);
  Status Save(const std::string& state_dir) const;  // atomic
};

struct EngineGuess {
  std::string engine;
  std::string ns;     // containerd namespace, when the bundle path shows it
  std::string image;  // when annotations name it
};

// Guesses the engine from the spec's annotations, cgroupsPath and the bundle
// path (containerd's shim keeps bundles in .../io.containerd.runtime.v2.task/NS/ID;
// Docker is containerd namespace "moby"; podman sets io.container.manager=libpod).
EngineGuess GuessEngine(const nlohmann::json& spec, const std::string& bundle);

// The image a Docker container was created from, as the user named it
// (config.v2.json's Config.Image), so that a post-mortem snapshot after
// `docker rm` still has its base. Docker's spec carries no image annotation,
// but bind-mounts /etc/hostname from DATA_ROOT/containers/ID/hostname, beside
// config.v2.json. "" when the spec has no such mount or the file says nothing.
std::string DockerImageRef(const nlohmann::json& spec, const std::string& id);

struct ExitRecord {
  int64_t exited_unix_ns = 0;
  std::string status;
  std::optional<int> exit_code;
  std::string by;

  std::string ToJson() const;
  static Result<ExitRecord> Load(const std::string& state_dir);
  Status Save(const std::string& state_dir) const;  // atomic
};

int64_t NowUnixNs();

}  // namespace ctrsnap::shim
