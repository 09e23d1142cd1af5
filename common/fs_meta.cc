#include "common/fs_meta.h"

#include <nlohmann/json.hpp>

#include "common/file_util.h"
#include "common/state_layout.h"

namespace ctrsnap {

const GenerationMeta* FsMeta::Find(uint64_t id) const {
  if (id == 0 || id > generations.size()) return nullptr;
  return &generations[id - 1];
}

std::vector<const GenerationMeta*> FsMeta::UnexportedSealed() const {
  std::vector<const GenerationMeta*> out;
  for (const auto& g : generations) {
    if (g.sealed && g.exported_in.empty()) out.push_back(&g);
  }
  return out;
}

Status FsMeta::Validate() const {
  if (version != kVersion) {
    return Status::Unsupported("fs.json version " + std::to_string(version) + " (expected " +
                               std::to_string(kVersion) + ")");
  }
  if (generations.empty()) return Status::Corrupt("fs.json has no generations");
  for (size_t i = 0; i < generations.size(); ++i) {
    const auto& g = generations[i];
    if (g.id != i + 1) {
      return Status::Corrupt("fs.json generation " + std::to_string(i) + " has id " +
                             std::to_string(g.id));
    }
    bool last = i + 1 == generations.size();
    if (g.sealed == last) {
      return Status::Corrupt("fs.json: generation " + std::to_string(g.id) +
                             (last ? " is the last but sealed" : " is live but not the last"));
    }
    if ((g.compacted_into != 0 && (!g.sealed || g.compacted_into <= g.id)) ||
        g.compacted_from > g.id) {
      return Status::Corrupt("fs.json: generation " + std::to_string(g.id) +
                             " has an impossible compaction record");
    }
  }
  return Status::Ok();
}

std::string FsMeta::ToJson() const {
  nlohmann::json j;
  j["version"] = version;
  j["lowerdirs"] = lowerdirs;
  j["generations"] = nlohmann::json::array();
  for (const auto& g : generations) {
    nlohmann::json e = {{"id", g.id},
                        {"label", g.label},
                        {"sealed", g.sealed},
                        {"created_unix_ns", g.created_unix_ns},
                        {"sealed_unix_ns", g.sealed_unix_ns}};
    if (!g.exported_in.empty()) e["exported_in"] = g.exported_in;
    if (g.compacted_from != 0) e["compacted_from"] = g.compacted_from;
    if (g.compacted_into != 0) e["compacted_into"] = g.compacted_into;
    j["generations"].push_back(std::move(e));
  }
  return j.dump(2) + "\n";
}

Result<FsMeta> FsMeta::FromJson(std::string_view text) {
  FsMeta m;
  try {
    auto j = nlohmann::json::parse(text);
    m.version = j.at("version").get<int>();
    m.lowerdirs = j.at("lowerdirs").get<std::vector<std::string>>();
    for (const auto& e : j.at("generations")) {
      GenerationMeta g;
      g.id = e.at("id").get<uint64_t>();
      g.label = e.value("label", "");
      g.sealed = e.at("sealed").get<bool>();
      g.created_unix_ns = e.value("created_unix_ns", int64_t{0});
      g.sealed_unix_ns = e.value("sealed_unix_ns", int64_t{0});
      g.exported_in = e.value("exported_in", "");
      g.compacted_from = e.value("compacted_from", uint64_t{0});
      g.compacted_into = e.value("compacted_into", uint64_t{0});
      m.generations.push_back(std::move(g));
    }
  } catch (const nlohmann::json::exception& e) {
    return Status::Corrupt(std::string("fs.json: ") + e.what());
  }
  RETURN_IF_ERROR(m.Validate());
  return m;
}

Result<FsMeta> FsMeta::Load(const std::string& state_dir) {
  std::string path = layout::FsMetaPath(state_dir);
  ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
  auto m = FromJson(text);
  if (!m.ok()) return m.status().WithContext(path);
  return m;
}

Status FsMeta::Save(const std::string& state_dir) const {
  RETURN_IF_ERROR(Validate());
  return WriteFileAtomic(layout::FsMetaPath(state_dir), ToJson(), 0600);
}

}  // namespace ctrsnap
