// ctrsnap inspect SNAPSHOT: one snapshot's record. SNAPSHOT is a tag, a
// manifest or layer digest (or a unique prefix of one), or CONTAINER:SEQ.
#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "layers/cli/commands.h"
#include "layers/cli/snapshot_summary.h"
#include "layers/lib/container_state.h"
#include "layers/lib/snapshot_record.h"

namespace ctrsnap::cli {
namespace {

bool Matches(const layers::SnapshotRecord& r, const std::string& container, const std::string& q) {
  if (q.empty()) return false;
  if (r.tag == q) return true;
  std::string hex = q.rfind("sha256:", 0) == 0 ? q.substr(7) : q;
  if (hex.size() >= 6) {
    for (const auto* d : {&r.manifest_digest, &r.layer.digest}) {
      if (d->size() > 7 && d->compare(7, hex.size(), hex) == 0) return true;
    }
  }
  auto colon = q.rfind(':');
  if (colon != std::string::npos) {
    std::string c = q.substr(0, colon), seq = q.substr(colon + 1);
    if (!c.empty() && container.rfind(c, 0) == 0 && seq == std::to_string(r.sequence)) return true;
  }
  return false;
}

int RunInspect(const std::string& query, bool as_json) {
  auto config = Config::LoadDefault();
  if (!config.ok()) {
    std::fprintf(stderr, "ctrsnap inspect: %s\n", config.status().ToString().c_str());
    return 1;
  }
  std::vector<std::pair<std::string, layers::SnapshotRecord>> found;
  for (const auto& name : layers::ListStateDirs(config->state_root)) {
    std::string state = config->state_root + "/" + name;
    auto records = layers::LoadSnapshotRecords(state);
    if (!records.ok()) continue;
    for (const auto& r : *records) {
      if (Matches(r, name, query)) found.emplace_back(state, r);
    }
  }
  if (found.empty()) {
    std::fprintf(stderr, "ctrsnap inspect: no snapshot matches '%s'\n", query.c_str());
    return 1;
  }
  if (found.size() > 1 && !as_json) {
    std::fprintf(stderr, "ctrsnap inspect: '%s' matches %zu snapshots; showing the newest\n",
                 query.c_str(), found.size());
  }
  const auto& [state, rec] = found.back();
  if (as_json) {
    auto j = RecordJson(rec);
    j["state"] = state;
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    PrintRecord(rec, state);
  }
  return 0;
}

}  // namespace

void AddInspectCommand(CLI::App& root, Context& ctx) {
  struct Flags {
    std::string query;
    bool json = false;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = root.add_subcommand("inspect", "Show one snapshot (tag, digest or CONTAINER:SEQ)");
  cmd->add_option("snapshot", f->query, "tag, manifest/layer digest (prefix), or CONTAINER:SEQ")
      ->required();
  cmd->add_flag("--json", f->json, "print JSON");
  cmd->callback([f, &ctx] { ctx.exit_code = RunInspect(f->query, f->json); });
}

}  // namespace ctrsnap::cli
