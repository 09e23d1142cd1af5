// ctrsnap compact: merge the exported sealed generations of a container's
// filesystem into one (fusefs/core/state_dir_compact.cc), freeing the copies
// that newer generations superseded. Through the daemon while it runs (the
// container keeps running), else directly on the state directory.
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "common/control_client.h"
#include "common/file_util.h"
#include "common/fs_meta.h"
#include "common/state_layout.h"
#include "fusefs/core/state_dir.h"
#include "fusefs/journal/change_set.h"
#include "layers/cli/commands.h"
#include "layers/cli/state_arg.h"
#include "layers/lib/snapshot_record.h"

namespace ctrsnap::cli {
namespace {

using nlohmann::json;

struct CompactArgs {
  StateArgs state;
  int64_t through = 0;  // 0: all
  bool json = false;
  int timeout_s = 600;
};

// Apparent bytes of every generation (what `ctrsnap status` shows).
uint64_t StateBytes(const std::string& state) {
  auto meta = FsMeta::Load(state);
  uint64_t total = 0;
  if (!meta.ok()) return 0;
  for (const auto& g : meta->generations) {
    auto u = MeasureUpper(layout::UpperDir(state, g.id));
    if (u.ok()) total += u->bytes;
  }
  return total;
}

// Generations that snapshot records name but fs.json does not mark exported
// (snapshots taken while a daemon without mark_exported ran), by layer digest.
Result<std::map<std::string, std::vector<uint64_t>>> UnmarkedExports(const std::string& state) {
  ASSIGN_OR_RETURN(FsMeta meta, FsMeta::Load(state));
  ASSIGN_OR_RETURN(auto records, layers::LoadSnapshotRecords(state));
  std::map<std::string, std::vector<uint64_t>> out;
  for (const auto& r : records) {
    for (uint64_t id : r.generations) {
      const GenerationMeta* g = meta.Find(id);
      if (g && g->sealed && g->exported_in.empty()) out[r.layer.digest].push_back(id);
    }
  }
  return out;
}

json RunsToJson(const std::vector<fs::CompactRun>& runs) {
  json out = json::array();
  for (const auto& r : runs) {
    out.push_back({{"from", r.from},
                   {"into", r.into},
                   {"members", r.members},
                   {"linked", r.stats.linked},
                   {"materialized", r.stats.materialized},
                   {"dirs", r.stats.dirs},
                   {"whiteouts_kept", r.stats.whiteouts_kept},
                   {"whiteouts_dropped", r.stats.whiteouts_dropped}});
  }
  return out;
}

Result<json> CompactOffline(const std::string& state, std::optional<uint64_t> through,
                            const std::map<std::string, std::vector<uint64_t>>& unmarked) {
  const std::string snapshots = layout::SnapshotsDir(state);
  RETURN_IF_ERROR(MakeDirs(snapshots, 0700));
  UniqueFd snap_lock(::open((snapshots + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!snap_lock || ::flock(snap_lock.get(), LOCK_EX | LOCK_NB) != 0) {
    return Status(Code::kBusy, "a snapshot of " + state + " is being taken; compact later", EBUSY);
  }
  const int64_t now = std::chrono::duration_cast<std::chrono::nanoseconds>(
                          std::chrono::system_clock::now().time_since_epoch()).count();
  ASSIGN_OR_RETURN(fs::StateDir dir, fs::StateDir::Open(state, {}, now));
  for (const auto& [digest, gens] : unmarked) {
    ASSIGN_OR_RETURN(auto marked, dir.MarkExported(gens, digest));
    (void)marked;
  }
  ASSIGN_OR_RETURN(auto runs, dir.CompactOffline(through));
  return json{{"compacted", RunsToJson(runs)}};
}

Result<json> CompactOnline(const std::string& state, std::optional<uint64_t> through,
                           const std::map<std::string, std::vector<uint64_t>>& unmarked,
                           int timeout_ms) {
  for (const auto& [digest, gens] : unmarked) {
    auto r = ControlCall(state, {{"op", "mark_exported"}, {"generations", gens}, {"digest", digest}},
                         timeout_ms);
    if (!r.ok()) return r.status().WithContext("mark_exported");
  }
  json req = {{"op", "compact"}};
  if (through) req["through"] = *through;
  return ControlCall(state, req, timeout_ms);
}

int RunCompact(const CompactArgs& a) {
  Result<std::string> state = ResolveStateDir(a.state);
  if (!state.ok()) {
    return ReportError("compact", state.status(), state.status().code() == Code::kInvalidArgument);
  }
  auto unmarked = UnmarkedExports(*state);
  if (!unmarked.ok()) return ReportError("compact", unmarked.status());
  std::optional<uint64_t> through;
  if (a.through > 0) through = static_cast<uint64_t>(a.through);

  // The daemon holds the state lock for its whole life.
  bool daemon = true;
  {
    UniqueFd lock(::open(layout::LockPath(*state).c_str(), O_RDWR | O_CLOEXEC));
    if (lock && ::flock(lock.get(), LOCK_EX | LOCK_NB) == 0) daemon = false;
  }  // released: StateDir::Open takes it again
  const uint64_t before = StateBytes(*state);
  Result<json> reply = daemon ? CompactOnline(*state, through, *unmarked, a.timeout_s * 1000)
                              : CompactOffline(*state, through, *unmarked);
  if (!reply.ok()) return ReportError("compact", reply.status());
  const uint64_t after = StateBytes(*state);
  (*reply)["bytes_before"] = before;
  (*reply)["bytes_after"] = after;
  (*reply)["online"] = daemon;
  if (a.json) {
    std::printf("%s\n", reply->dump(-1, ' ', false, json::error_handler_t::replace).c_str());
    return 0;
  }
  const json runs = reply->value("compacted", json::array());
  if (runs.empty()) {
    std::printf("nothing to compact: no two consecutive exported sealed generations\n");
    return 0;
  }
  for (const auto& r : runs) {
    std::printf("generations %llu-%llu merged into %llu: %llu files kept (linked), %llu copied, "
                "%llu whiteouts dropped\n",
                static_cast<unsigned long long>(r.value("from", uint64_t{0})),
                static_cast<unsigned long long>(r.value("into", uint64_t{0})),
                static_cast<unsigned long long>(r.value("into", uint64_t{0})),
                static_cast<unsigned long long>(r.value("linked", uint64_t{0})),
                static_cast<unsigned long long>(r.value("materialized", uint64_t{0})),
                static_cast<unsigned long long>(r.value("whiteouts_dropped", uint64_t{0})));
  }
  std::printf("generations hold %s, was %s%s\n", HumanSize(after).c_str(), HumanSize(before).c_str(),
              daemon ? (" (live generation " + std::to_string(reply->value("live", uint64_t{0})) +
                        " opened; writes blocked " +
                        std::to_string(reply->value("blocked_us", int64_t{0})) + " us)")
                           .c_str()
                     : "");
  return 0;
}

}  // namespace

void AddCompactCommand(CLI::App& root, Context& ctx) {
  auto args = std::make_shared<CompactArgs>();
  CLI::App* sub = root.add_subcommand(
      "compact", "Merge exported sealed generations into one, freeing superseded copies");
  AddStateArgs(sub, args->state);
  sub->add_option("--through", args->through, "only generations up to this id")
      ->check(CLI::PositiveNumber);
  sub->add_flag("--json", args->json, "print the result as JSON");
  sub->add_option("--timeout", args->timeout_s, "seconds to wait for the daemon")
      ->check(CLI::Range(1, 36000));
  sub->callback([args, &ctx] { ctx.exit_code = RunCompact(*args); });
}

}  // namespace ctrsnap::cli
