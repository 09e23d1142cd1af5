#include "shim/container_meta.h"

#include <time.h>

#include "common/file_util.h"
#include "common/state_layout.h"
#include "shim/replace_file.h"
#include "shim/spec.h"

namespace ctrsnap::shim {

using nlohmann::json;

int64_t NowUnixNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000LL + ts.tv_nsec;
}

std::string ContainerMeta::ToJson() const {
  json j = {{"version", kVersion},
            {"id", id},
            {"bundle", bundle},
            {"rootfs", rootfs},
            {"engine", engine},
            {"engine_namespace", engine_namespace},
            {"image", image},
            {"cgroups_path", cgroups_path},
            {"runtime", runtime},
            {"runtime_root", runtime_root},
            {"readonly_root", readonly_root},
            {"created_unix_ns", created_unix_ns},
            {"starts", starts},
            {"env", env},
            {"annotations", annotations}};
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

Result<ContainerMeta> ContainerMeta::FromJson(std::string_view text, const std::string& source) {
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::Corrupt(source + ": malformed JSON");
  }
  ContainerMeta m;
  try {
    if (j.value("version", 0) != kVersion) {
      return Status::Corrupt(source + ": unsupported version");
    }
    m.id = j.at("id").get<std::string>();
    m.bundle = j.value("bundle", "");
    m.rootfs = j.value("rootfs", "");
    m.engine = j.value("engine", "");
    m.engine_namespace = j.value("engine_namespace", "");
    m.image = j.value("image", "");
    m.cgroups_path = j.value("cgroups_path", "");
    m.runtime = j.value("runtime", "");
    m.runtime_root = j.value("runtime_root", "");
    m.readonly_root = j.value("readonly_root", false);
    m.created_unix_ns = j.value("created_unix_ns", int64_t{0});
    m.starts = j.value("starts", uint64_t{0});
    m.env = j.value("env", std::vector<std::string>{});
    m.annotations = j.value("annotations", json::object());
  } catch (const json::exception& e) {
    return Status::Corrupt(source + ": " + e.what());
  }
  return m;
}

Result<ContainerMeta> ContainerMeta::Load(const std::string& state_dir) {
  const std::string path = layout::ContainerMetaPath(state_dir);
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  return FromJson(text, path);
}

Status ContainerMeta::Save(const std::string& state_dir) const {
  return ReplaceFile(layout::ContainerMetaPath(state_dir), ToJson(), 0600);
}

namespace {

// ".../io.containerd.runtime.v2.task/NS/ID" -> NS
std::string ContainerdNamespace(const std::string& bundle) {
  static const std::string kMarker = "/io.containerd.runtime.v2.task/";
  size_t at = bundle.find(kMarker);
  if (at == std::string::npos) return "";
  size_t start = at + kMarker.size();
  size_t end = bundle.find('/', start);
  return bundle.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

std::string CgroupsPath(const json& spec) {
  auto linux_it = spec.find("linux");
  if (linux_it == spec.end() || !linux_it->is_object()) return "";
  auto cg = linux_it->find("cgroupsPath");
  return cg != linux_it->end() && cg->is_string() ? cg->get<std::string>() : "";
}

}  // namespace

EngineGuess GuessEngine(const json& spec, const std::string& bundle) {
  EngineGuess g;
  g.ns = ContainerdNamespace(bundle);
  const std::string cgroups = CgroupsPath(spec);
  if (auto m = Annotation(spec, "io.container.manager"); m && *m == "libpod") {
    g.engine = "podman";
  } else if (Annotation(spec, "io.kubernetes.cri.container-type") ||
             Annotation(spec, "io.kubernetes.cri.sandbox-id")) {
    g.engine = "cri";
    g.image = Annotation(spec, "io.kubernetes.cri.image-name").value_or("");
  } else if (g.ns == "moby" || cgroups.find("docker") != std::string::npos) {
    g.engine = "docker";
  } else if (!g.ns.empty()) {
    g.engine = "containerd";
  } else if (bundle.find("/libpod/") != std::string::npos ||
             bundle.find("/containers/storage/") != std::string::npos) {
    g.engine = "podman";
  } else {
    g.engine = "plain";
  }
  if (g.image.empty()) {
    g.image = Annotation(spec, "org.opencontainers.image.ref.name").value_or("");
  }
  return g;
}

std::string DockerImageRef(const json& spec, const std::string& id) {
  auto mounts = spec.find("mounts");
  if (mounts == spec.end() || !mounts->is_array() || id.empty()) return "";
  for (const auto& m : *mounts) {
    if (!m.is_object() || m.value("destination", "") != "/etc/hostname") continue;
    std::string source = m.value("source", "");
    const std::string tail = "/containers/" + id + "/hostname";
    if (source.size() <= tail.size() || source.compare(source.size() - tail.size(), tail.size(), tail) != 0) {
      return "";  // not Docker's layout: nothing to read
    }
    std::string path = source.substr(0, source.size() - std::string("hostname").size()) + "config.v2.json";
    auto text = ReadFileToString(path);
    if (!text.ok()) return "";
    json j = json::parse(*text, nullptr, false);
    if (!j.is_object()) return "";
    auto config = j.find("Config");
    if (config == j.end() || !config->is_object()) return "";
    auto image = config->find("Image");
    return image != config->end() && image->is_string() ? image->get<std::string>() : "";
  }
  return "";
}

std::string ExitRecord::ToJson() const {
  json j = {{"exited_unix_ns", exited_unix_ns}, {"status", status}, {"by", by}};
  j["exit_code"] = exit_code ? json(*exit_code) : json(nullptr);
  return j.dump(2) + "\n";
}

Result<ExitRecord> ExitRecord::Load(const std::string& state_dir) {
  const std::string path = layout::ExitRecordPath(state_dir);
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Status::Corrupt(path + ": malformed JSON");
  ExitRecord r;
  try {
    r.exited_unix_ns = j.value("exited_unix_ns", int64_t{0});
    r.status = j.value("status", "");
    r.by = j.value("by", "");
    if (j.contains("exit_code") && j["exit_code"].is_number_integer()) {
      r.exit_code = j["exit_code"].get<int>();
    }
  } catch (const json::exception& e) {
    return Status::Corrupt(path + ": " + e.what());
  }
  return r;
}

Status ExitRecord::Save(const std::string& state_dir) const {
  return ReplaceFile(layout::ExitRecordPath(state_dir), ToJson(), 0600);
}

}  // namespace ctrsnap::shim
