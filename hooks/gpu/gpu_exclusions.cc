#include "hooks/gpu/gpu_exclusions.h"

#include <algorithm>
#include <cerrno>

#include "common/file_util.h"
#include "hooks/gpu/oci_spec_edit.h"

namespace ctrsnap::gpu {

using nlohmann::json;

namespace {
void SortUnique(std::vector<std::string>* v) {
  std::sort(v->begin(), v->end());
  v->erase(std::unique(v->begin(), v->end()), v->end());
}
std::string_view TrimSlashes(std::string_view p) {
  while (p.size() > 1 && p.back() == '/') p.remove_suffix(1);
  return p;
}
}  // namespace

void GpuExclusions::Normalize() {
  SortUnique(&env_names);
  SortUnique(&annotation_keys);
  SortUnique(&paths);
}

bool GpuExclusions::ExcludesPath(std::string_view path) const {
  path = TrimSlashes(path);
  for (const auto& raw : paths) {
    std::string_view p = TrimSlashes(raw);
    if (path == p) return true;
    if (p == "/") return true;
    if (path.size() > p.size() && path.compare(0, p.size(), p) == 0 && path[p.size()] == '/') {
      return true;
    }
  }
  return false;
}

bool GpuExclusions::ExcludesEnv(std::string_view name) const {
  return std::binary_search(env_names.begin(), env_names.end(), name);
}

bool GpuExclusions::ExcludesAnnotation(std::string_view key) const {
  return std::binary_search(annotation_keys.begin(), annotation_keys.end(), key);
}

void GpuExclusions::ApplyToImageEnv(std::vector<std::string>* env,
                                    const std::vector<std::string>& base_env) const {
  std::vector<std::string> out;
  std::vector<std::string> restored;
  for (const auto& e : *env) {
    std::string_view name = EnvName(e);
    if (!ExcludesEnv(name)) {
      out.push_back(e);
      continue;
    }
    // The base image's entry, if any (the last one wins, as in an image config).
    const std::string* base = nullptr;
    for (const auto& b : base_env) {
      if (EnvName(b) == name) base = &b;
    }
    if (base != nullptr &&
        std::find(restored.begin(), restored.end(), std::string(name)) == restored.end()) {
      out.push_back(*base);
      restored.emplace_back(name);
    }
  }
  *env = std::move(out);
}

json GpuExclusions::ToJson() const {
  return {{"env_names", env_names}, {"annotation_keys", annotation_keys}, {"paths", paths}};
}

Result<GpuExclusions> GpuExclusions::FromJson(const json& j) {
  GpuExclusions x;
  if (!j.is_object()) return Status::Corrupt("GPU exclusions: not a JSON object");
  auto read = [&](const char* key, std::vector<std::string>* out) -> Status {
    auto it = j.find(key);
    if (it == j.end()) return Status::Ok();
    if (!it->is_array()) return Status::Corrupt(std::string("GPU exclusions: ") + key + " is not a list");
    for (const auto& v : *it) {
      if (!v.is_string()) return Status::Corrupt(std::string("GPU exclusions: ") + key + " holds a non-string");
      out->push_back(v.get<std::string>());
    }
    return Status::Ok();
  };
  RETURN_IF_ERROR(read("env_names", &x.env_names));
  RETURN_IF_ERROR(read("annotation_keys", &x.annotation_keys));
  RETURN_IF_ERROR(read("paths", &x.paths));
  for (const auto& p : x.paths) {
    if (p.empty() || p[0] != '/') return Status::Corrupt("GPU exclusions: path not absolute: " + p);
  }
  x.Normalize();
  return x;
}

Result<GpuExclusions> LoadGpuExclusions(const std::string& state_dir) {
  const std::string path = GpuExclusionsPath(state_dir);
  auto text = ReadFileToString(path);
  if (!text.ok()) {
    if (text.status().err() == ENOENT) return GpuExclusions{};
    return text.status();
  }
  json doc = json::parse(*text, nullptr, false);
  if (doc.is_discarded() || !doc.is_object() || !doc.contains("exclusions")) {
    return Status::Corrupt(path + ": not a GPU record");
  }
  auto x = GpuExclusions::FromJson(doc["exclusions"]);
  if (!x.ok()) return x.status().WithContext(path);
  return x;
}

GpuExclusions ExclusionsFromSpec(const json& spec) {
  GpuExclusions x;
  for (const auto& e : ProcessEnv(spec)) {
    std::string_view name = EnvName(e);
    if (name.rfind("NVIDIA_", 0) == 0) x.env_names.emplace_back(name);
  }
  for (const auto& [k, v] : Annotations(spec)) {
    if (k.rfind(kCdiAnnotationPrefix, 0) == 0) x.annotation_keys.push_back(k);
  }
  x.Normalize();
  return x;
}

}  // namespace ctrsnap::gpu
