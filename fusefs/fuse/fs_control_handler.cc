#include "fusefs/fuse/fs_control_handler.h"

#include <ftw.h>

#include "common/state_layout.h"

namespace ctrsnap::fs {

TreeUsage MeasureTree(const std::string& dir) {
  // nftw has no user pointer; a thread_local accumulator keeps it re-entrant
  // across threads.
  static thread_local TreeUsage* acc = nullptr;
  TreeUsage u;
  acc = &u;
  ::nftw(
      dir.c_str(),
      [](const char*, const struct stat* st, int type, struct FTW* ftw) -> int {
        if (ftw->level == 0) return 0;
        if (type == FTW_F || type == FTW_SL || type == FTW_D || type == FTW_DP) {
          acc->files++;
          acc->bytes += static_cast<uint64_t>(st->st_blocks) * 512;
        }
        return 0;
      },
      64, FTW_PHYS | FTW_MOUNT);
  acc = nullptr;
  return u;
}

Result<nlohmann::json> FsControlHandler::GetStatus() {
  nlohmann::json out;
  out["live"] = core_->live_generation();
  out["nodes"] = core_->node_count();
  nlohmann::json gens = nlohmann::json::array();
  if (core_->can_seal()) {
    FsMeta meta = core_->MetaSnapshot();
    for (const auto& g : meta.generations) {
      TreeUsage u = MeasureTree(layout::UpperDir(core_->state_dir(), g.id));
      nlohmann::json e = {{"id", g.id},       {"label", g.label}, {"sealed", g.sealed},
                          {"bytes", u.bytes}, {"files", u.files}, {"created_unix_ns", g.created_unix_ns},
                          {"sealed_unix_ns", g.sealed_unix_ns}};
      if (!g.exported_in.empty()) e["exported_in"] = g.exported_in;
      gens.push_back(std::move(e));
    }
  }
  out["generations"] = std::move(gens);
  if (journal_) {
    JournalStats s = journal_->stats();
    out["journal"] = {{"generation", s.generation},
                      {"next_seq", s.next_seq},
                      {"records_written", s.records_written},
                      {"bytes_written", s.bytes_written},
                      {"writes_coalesced", s.writes_coalesced},
                      {"last_error", s.last_error}};
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
                        {"total_us", r->total_us}};
}

Result<nlohmann::json> FsControlHandler::Flush() {
  RETURN_IF_ERROR(core_->SyncLive());
  if (journal_) RETURN_IF_ERROR(journal_->Flush());
  return nlohmann::json{{"flushed", true}};
}

Result<nlohmann::json> FsControlHandler::Compact(const CompactArgs& args) {
  (void)args;
  return Status::Unsupported("compact is not implemented yet");
}

}  // namespace ctrsnap::fs
