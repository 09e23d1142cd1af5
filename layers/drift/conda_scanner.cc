// conda environments: ENV/conda-meta/*.json, one record per installed package
// (name, version, build, channel). Records also list every file of the
// package; the parser callback drops those arrays as they are read.
#include <dirent.h>
#include <fcntl.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "layers/drift/root_fs.h"
#include "layers/drift/scanners.h"

namespace ctrsnap::drift {
namespace {

constexpr size_t kRecordMax = 64u << 20;

// Keeps only top-level scalars; nested objects/arrays (files, paths_data,
// depends) are discarded while parsing.
bool KeepTopLevel(int depth, nlohmann::json::parse_event_t event, nlohmann::json&) {
  using E = nlohmann::json::parse_event_t;
  if (depth == 1 && (event == E::object_start || event == E::array_start)) return false;
  return depth <= 1 || event == E::object_end;
}

std::string Str(const nlohmann::json& j, const char* key) {
  auto it = j.find(key);
  return (it != j.end() && it->is_string()) ? it->get<std::string>() : std::string();
}

}  // namespace

void ScanCondaMeta(int rootfd, const std::string& conda_meta_dir, Inventory& inv) {
  auto dir = OpenInRoot(rootfd, conda_meta_dir, O_RDONLY | O_DIRECTORY);
  if (!dir.ok()) {
    inv.AddNote("conda: " + dir.status().ToString());
    return;
  }
  std::vector<std::string> files;
  Status st = ForEachEntry(dir->get(), [&](std::string_view n, unsigned char type) {
    if (type == DT_REG && n.ends_with(".json")) files.emplace_back(n);
  });
  if (!st.ok()) inv.AddNote("conda: " + conda_meta_dir + ": " + st.ToString());
  size_t slash = conda_meta_dir.rfind('/');
  std::string env = slash == std::string::npos ? "/" : "/" + conda_meta_dir.substr(0, slash);
  size_t bad = 0;
  for (const auto& f : files) {
    auto fd = OpenFileNoFollow(dir->get(), f);
    if (!fd.ok()) continue;
    auto text = ReadPrefix(fd->get(), kRecordMax);
    if (!text.ok()) continue;
    nlohmann::json j = nlohmann::json::parse(*text, KeepTopLevel, /*allow_exceptions=*/false);
    if (!j.is_object()) {
      ++bad;
      continue;
    }
    Item it;
    it.ecosystem = kEcoConda;
    it.name = Str(j, "name");
    it.version = Str(j, "version");
    it.build = Str(j, "build");
    it.channel = Str(j, "channel");
    if (it.channel.empty()) it.channel = Str(j, "schannel");
    it.location = env;
    if (it.name.empty()) {
      ++bad;
      continue;
    }
    inv.items.push_back(std::move(it));
  }
  if (bad > 0) {
    inv.AddNote("conda: " + std::to_string(bad) + " unreadable record(s) in /" + conda_meta_dir);
  }
}

}  // namespace ctrsnap::drift
