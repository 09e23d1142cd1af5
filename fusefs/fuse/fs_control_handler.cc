#include "fusefs/fuse/fs_control_handler.h"

#include "common/state_layout.h"
#include "fusefs/journal/change_set.h"

namespace ctrsnap::fs {

Result<nlohmann::json> FsControlHandler::GetStatus() {
  nlohmann::json out;
  out["live"] = core_->live_generation();
  out["nodes"] = core_->node_count();
  nlohmann::json gens = nlohmann::json::array();
  if (core_->can_seal()) {
    FsMeta meta = core_->MetaSnapshot();
    for (const auto& g : meta.generations) {
      // Same measure as the offline `ctrsnap status` (apparent bytes, non-dirs).
      auto u = MeasureUpper(layout::UpperDir(core_->state_dir(), g.id));
      UpperUsage usage = u.ok() ? *u : UpperUsage{};
      nlohmann::json e = {{"id", g.id},
                          {"label", g.label},
                          {"sealed", g.sealed},
                          {"bytes", usage.bytes},
                          {"files", usage.files},
                          {"dirs", usage.dirs},
                          {"created_unix_ns", g.created_unix_ns},
                          {"sealed_unix_ns", g.sealed_unix_ns}};
      if (!g.exported_in.empty()) e["exported_in"] = g.exported_in;
      gens.push_back(std::move(e));
    }
  }
  out["generations"] = std::move(gens);
  if (journal_) {
    out["journal"] = JournalStatsToJson(journal_->stats());
  } else {
    out["journal"] = nlohmann::json::object();
  }
  return out;
}

Result<nlohmann::json> FsControlHandler::Seal(const std::string& label) {
  auto r = core_->Seal(label);
  if (!r.ok()) return r.status();
  return nlohmann::json{{"sealed", r->sealed},
                        {"live", r->live},
                        {"blocked_us", r->blocked_us},
                        {"switch_us", r->switch_us},
                        {"total_us", r->total_us}};
}

Result<nlohmann::json> FsControlHandler::Flush() {
  RETURN_IF_ERROR(core_->SyncLive());
  if (journal_) RETURN_IF_ERROR(journal_->Flush());
  return nlohmann::json{{"flushed", true}};
}

Result<nlohmann::json> FsControlHandler::MarkExported(const std::vector<uint64_t>& generations,
                                                      const std::string& digest) {
  auto r = core_->MarkExported(generations, digest);
  if (!r.ok()) return r.status();
  return nlohmann::json{{"marked", *r}};
}

Result<nlohmann::json> FsControlHandler::Compact(const CompactArgs& args) {
  auto r = core_->Compact(args.through);
  if (!r.ok()) return r.status();
  nlohmann::json runs = nlohmann::json::array();
  for (const auto& run : r->runs) {
    runs.push_back({{"from", run.from},
                    {"into", run.into},
                    {"members", run.members},
                    {"linked", run.stats.linked},
                    {"materialized", run.stats.materialized},
                    {"dirs", run.stats.dirs},
                    {"whiteouts_kept", run.stats.whiteouts_kept},
                    {"whiteouts_dropped", run.stats.whiteouts_dropped}});
  }
  nlohmann::json out = {{"compacted", std::move(runs)}};
  if (!r->runs.empty()) {
    out["sealed"] = r->seal.sealed;
    out["live"] = r->seal.live;
    out["blocked_us"] = r->seal.blocked_us;
  }
  return out;
}

}  // namespace ctrsnap::fs
