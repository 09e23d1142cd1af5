#include "packaging/install/engine_config.h"

#include <cerrno>
#include <cstdio>

#include "common/file_util.h"

namespace ctrsnap::install {

std::unique_ptr<EngineConfig> MakeDockerConfig();
std::unique_ptr<EngineConfig> MakeContainerdConfig();
std::unique_ptr<EngineConfig> MakePodmanConfig();
std::unique_ptr<EngineConfig> MakeCrioConfig();

Result<Engine> ParseEngine(std::string_view name) {
  for (Engine e : kAllEngines) {
    if (EngineName(e) == name) return e;
  }
  if (name == "cri-o") return Engine::kCrio;
  return Status::InvalidArgument("unknown engine \"" + std::string(name) +
                                 "\" (docker, containerd, podman, crio)");
}

std::string_view EngineName(Engine engine) {
  switch (engine) {
    case Engine::kDocker: return "docker";
    case Engine::kContainerd: return "containerd";
    case Engine::kPodman: return "podman";
    case Engine::kCrio: return "crio";
  }
  return "docker";
}

std::unique_ptr<EngineConfig> MakeEngineConfig(Engine engine, const std::string& root) {
  std::unique_ptr<EngineConfig> config;
  switch (engine) {
    case Engine::kDocker: config = MakeDockerConfig(); break;
    case Engine::kContainerd: config = MakeContainerdConfig(); break;
    case Engine::kPodman: config = MakePodmanConfig(); break;
    case Engine::kCrio: config = MakeCrioConfig(); break;
  }
  config->set_root(root);
  return config;
}

Result<std::optional<std::string>> ReadOptionalFile(const std::string& path) {
  auto text = ReadFileToString(path);
  if (text.ok()) return std::optional<std::string>(std::move(*text));
  if (text.status().err() == ENOENT) return std::optional<std::string>();
  return text.status();
}

std::string QuoteToml(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += c;
        }
    }
  }
  return out + "\"";
}

}  // namespace ctrsnap::install
