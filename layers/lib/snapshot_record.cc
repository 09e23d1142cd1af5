#include "layers/lib/snapshot_record.h"

#include <dirent.h>

#include <algorithm>
#include <cerrno>

#include "common/file_util.h"
#include "common/state_layout.h"

namespace ctrsnap::layers {

using nlohmann::json;

std::string SnapshotStoreRoot(const std::string& state) { return layout::SnapshotsDir(state); }
std::string SnapshotRecordPath(const std::string& state, uint64_t seq) {
  return layout::SnapshotsDir(state) + "/" + std::to_string(seq) + ".json";
}

json SnapshotRecord::ToJson() const {
  json stripped_j = json::array();
  for (const auto& s : stripped) {
    stripped_j.push_back({{"path", s.path}, {"rule", s.rule}, {"kind", s.kind},
                          {"reason", s.reason}, {"bytes", s.bytes}, {"action", s.action}});
  }
  return json{{"sequence", sequence},
              {"created", created},
              {"container_id", container_id},
              {"tag", tag},
              {"manifest_digest", manifest_digest},
              {"config_digest", config_digest},
              {"layer", oci::ToJson(layer)},
              {"diff_id", diff_id},
              {"tar_bytes", tar_bytes},
              {"generations", generations},
              {"parent_manifest", parent_manifest},
              {"base_name", base_name},
              {"base_digest", base_digest},
              {"squash", squash},
              {"compression", compression},
              {"files", {{"added", added}, {"changed", changed}, {"deleted", deleted}}},
              {"stripped", stripped_j},
              {"seconds", seconds}};
}

Result<SnapshotRecord> SnapshotRecord::FromJson(const json& j) {
  SnapshotRecord r;
  try {
    r.sequence = j.at("sequence").get<uint64_t>();
    r.created = j.value("created", "");
    r.container_id = j.value("container_id", "");
    r.tag = j.value("tag", "");
    r.manifest_digest = j.at("manifest_digest").get<std::string>();
    r.config_digest = j.value("config_digest", "");
    const json& l = j.at("layer");
    r.layer.media_type = l.at("mediaType").get<std::string>();
    r.layer.digest = l.at("digest").get<std::string>();
    r.layer.size = l.at("size").get<int64_t>();
    r.diff_id = j.value("diff_id", "");
    r.tar_bytes = j.value("tar_bytes", uint64_t{0});
    r.generations = j.at("generations").get<std::vector<uint64_t>>();
    r.parent_manifest = j.value("parent_manifest", "");
    r.base_name = j.value("base_name", "");
    r.base_digest = j.value("base_digest", "");
    r.squash = j.value("squash", false);
    r.compression = j.value("compression", "");
    if (j.contains("files")) {
      r.added = j["files"].value("added", uint64_t{0});
      r.changed = j["files"].value("changed", uint64_t{0});
      r.deleted = j["files"].value("deleted", uint64_t{0});
    }
    if (j.contains("stripped")) {
      for (const auto& s : j["stripped"]) {
        r.stripped.push_back({s.value("path", ""), s.value("rule", ""), s.value("kind", ""),
                              s.value("reason", ""), s.value("bytes", uint64_t{0}),
                              s.value("action", "")});
      }
    }
    r.seconds = j.value("seconds", 0.0);
  } catch (const json::exception& e) {
    return Status::Corrupt(std::string("snapshot record: ") + e.what());
  }
  return r;
}

Result<std::vector<SnapshotRecord>> LoadSnapshotRecords(const std::string& state) {
  std::vector<SnapshotRecord> out;
  std::string dir = layout::SnapshotsDir(state);
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) {
    if (errno == ENOENT) return out;
    return Status::FromErrno(errno, "opendir", dir);
  }
  std::vector<std::string> names;
  while (dirent* de = ::readdir(d)) {
    std::string n = de->d_name;
    if (n.size() > 5 && n.substr(n.size() - 5) == ".json" &&
        std::all_of(n.begin(), n.end() - 5, [](char c) { return c >= '0' && c <= '9'; })) {
      names.push_back(n);
    }
  }
  ::closedir(d);
  for (const auto& n : names) {
    std::string path = dir + "/" + n;
    ASSIGN_OR_RETURN(std::string text, ReadFileToString(path));
    json j;
    try {
      j = json::parse(text);
    } catch (const json::exception& e) {
      return Status::Corrupt(path + ": " + e.what());
    }
    auto r = SnapshotRecord::FromJson(j);
    if (!r.ok()) return r.status().WithContext(path);
    out.push_back(std::move(*r));
  }
  std::sort(out.begin(), out.end(),
            [](const SnapshotRecord& a, const SnapshotRecord& b) { return a.sequence < b.sequence; });
  return out;
}

Status SaveSnapshotRecord(const std::string& state, const SnapshotRecord& record) {
  RETURN_IF_ERROR(MakeDirs(layout::SnapshotsDir(state), 0700));
  return WriteFileAtomic(SnapshotRecordPath(state, record.sequence), record.ToJson().dump(2) + "\n",
                         0600);
}

std::set<uint64_t> ExportedGenerations(const FsMeta& meta,
                                       const std::vector<SnapshotRecord>& records) {
  std::set<uint64_t> out;
  for (const auto& g : meta.generations) {
    if (!g.exported_in.empty()) out.insert(g.id);
  }
  for (const auto& r : records) out.insert(r.generations.begin(), r.generations.end());
  return out;
}

}  // namespace ctrsnap::layers
