// ctrsnap ls: containers under $CTRSNAP_ROOT, their generations, snapshots
// and space.
#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "common/fs_meta.h"
#include "common/state_layout.h"
#include "layers/cli/commands.h"
#include "layers/cli/snapshot_summary.h"
#include "layers/lib/container_state.h"
#include "layers/lib/snapshot_record.h"

namespace ctrsnap::cli {
namespace {

using nlohmann::json;

int RunLs(bool as_json) {
  auto config = Config::LoadDefault();
  if (!config.ok()) {
    std::fprintf(stderr, "ctrsnap ls: %s\n", config.status().ToString().c_str());
    return 1;
  }
  const std::string& root = config->state_root;
  json out = json::array();
  if (!as_json) {
    std::printf("%-14s %-10s %-22s %5s %5s %10s %10s  %s\n", "CONTAINER", "ENGINE", "IMAGE", "GENS",
                "SNAPS", "WRITES", "SNAPSHOTS", "LAST SNAPSHOT");
  }
  for (const auto& name : layers::ListStateDirs(root)) {
    std::string state = root + "/" + name;
    auto meta = layers::LoadContainerMeta(state);
    auto fs = FsMeta::Load(state);
    auto records = layers::LoadSnapshotRecords(state);
    std::string error;
    if (!meta.ok()) error = meta.status().ToString();
    if (!fs.ok()) error = fs.status().ToString();
    if (!records.ok()) error = records.status().ToString();
    uint64_t writes = layers::DiskUsage(layout::GenerationsDir(state));
    uint64_t snaps = layers::DiskUsage(layout::SnapshotsDir(state));
    size_t gens = fs.ok() ? fs->generations.size() : 0;
    size_t nsnap = records.ok() ? records->size() : 0;
    std::string engine = meta.ok() ? meta->engine : "";
    std::string image = meta.ok() ? meta->image : "";
    std::string last = records.ok() && !records->empty() ? records->back().tag : "";
    if (as_json) {
      json c = {{"id", name},        {"state", state},        {"engine", engine},
                {"image", image},    {"generations", gens},   {"bytes_written", writes},
                {"bytes_snapshots", snaps}, {"snapshots", json::array()}};
      if (records.ok()) {
        for (const auto& r : *records) {
          c["snapshots"].push_back({{"sequence", r.sequence}, {"tag", r.tag},
                                    {"manifest_digest", r.manifest_digest},
                                    {"layer_size", r.layer.size}, {"created", r.created}});
        }
      }
      if (!error.empty()) c["error"] = error;
      out.push_back(std::move(c));
    } else {
      std::printf("%-14s %-10s %-22s %5zu %5zu %10s %10s  %s%s\n", name.substr(0, 12).c_str(),
                  engine.empty() ? "-" : engine.c_str(),
                  image.empty() ? "-" : image.substr(0, 22).c_str(), gens, nsnap,
                  HumanBytes(writes).c_str(), HumanBytes(snaps).c_str(),
                  last.empty() ? "-" : last.c_str(), error.empty() ? "" : ("  ! " + error).c_str());
    }
  }
  if (as_json) std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

}  // namespace

void AddLsCommand(CLI::App& root, Context& ctx) {
  auto as_json = std::make_shared<bool>(false);
  CLI::App* cmd = root.add_subcommand("ls", "List containers under ctrsnap with their snapshots");
  cmd->add_flag("--json", *as_json, "print JSON");
  cmd->callback([as_json, &ctx] { ctx.exit_code = RunLs(*as_json); });
}

}  // namespace ctrsnap::cli
