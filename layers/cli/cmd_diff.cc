// ctrsnap diff: the change set of the live generation, a sealed one, or
// everything since the last snapshot; like `docker diff` (A/C/D) plus sizes
// and who wrote (from the journal). Reads the state directory only.
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "common/fs_meta.h"
#include "common/state_layout.h"
#include "fusefs/journal/change_set.h"
#include "fusefs/journal/journal_format.h"
#include "layers/cli/commands.h"
#include "layers/cli/state_arg.h"

namespace ctrsnap::cli {
namespace {

using nlohmann::json;

struct DiffArgs {
  StateArgs state;
  std::optional<uint64_t> gen;
  bool since_snapshot = false;
  bool json = false;
  bool no_journal = false;
};

// The generations to diff: [first, last].
struct Range {
  uint64_t first = 0;
  uint64_t last = 0;
};

Result<Range> PickRange(const FsMeta& meta, const DiffArgs& a) {
  const uint64_t live = meta.live().id;
  if (a.gen) {
    if (meta.Find(*a.gen) == nullptr) {
      return Status::NotFound("no generation " + std::to_string(*a.gen) + " (live is " +
                              std::to_string(live) + ")");
    }
    if (uint64_t into = meta.Find(*a.gen)->compacted_into; into != 0) {
      return Status::NotFound("generation " + std::to_string(*a.gen) + " was compacted into " +
                              std::to_string(into) + " (its changes are in --gen " +
                              std::to_string(into) + ")");
    }
    return Range{*a.gen, *a.gen};
  }
  if (!a.since_snapshot) return Range{live, live};
  // After the newest exported generation; with none exported, after the
  // leading setup generation(s), which snapshots leave out by default.
  uint64_t first = 1;
  for (const auto& g : meta.generations) {
    if (!g.exported_in.empty()) first = g.id + 1;
  }
  if (first == 1) {
    while (first < live && meta.Find(first)->label == "setup") ++first;
  }
  return Range{std::min(first, live), live};
}

std::string Who(const Change& c) {
  if (c.writers.empty()) return "-";
  const ChangeWriter& w = c.writers.front();
  std::string s = EscapeForTerminal(w.comm.empty() ? "?" : w.comm) + "[" + std::to_string(w.pid) + "]";
  if (c.writers.size() > 1) s += " +" + std::to_string(c.writers.size() - 1);
  return s;
}

std::string Notes(const Change& c) {
  std::string n;
  if (c.opaque && c.kind == ChangeKind::kChanged) n += " (replaced: old contents gone)";
  if (!c.redirect.empty()) n += " (renamed from " + EscapeForTerminal(c.redirect) + ")";
  if (c.metacopy) n += " (metadata only)";
  if (c.type == 'l') n += " (symlink)";
  return n;
}

json ToJson(const Change& c) {
  json j = {{"kind", std::string(1, ChangeKindMarker(c.kind))},
            {"path", c.path},
            {"type", std::string(1, c.type)},
            {"generation", c.generation}};
  if (c.kind != ChangeKind::kDeleted) {
    j["size"] = c.size;
    j["mode"] = c.mode;
  }
  if (c.opaque) j["opaque"] = true;
  if (c.metacopy) j["metacopy"] = true;
  if (!c.redirect.empty()) j["redirect"] = c.redirect;
  if (c.last_change_ns != 0) j["last_change_ns"] = c.last_change_ns;
  j["writers"] = json::array();
  for (const auto& w : c.writers) {
    j["writers"].push_back({{"pid", w.pid},
                            {"comm", w.comm},
                            {"uid", w.uid},
                            {"ops", w.ops},
                            {"bytes_written", w.bytes_written}});
  }
  return j;
}

int RunDiff(const DiffArgs& a) {
  Result<std::string> state = ResolveStateDir(a.state);
  if (!state.ok()) {
    return ReportError("diff", state.status(), state.status().code() == Code::kInvalidArgument);
  }
  if (a.gen && a.since_snapshot) {
    return ReportError("diff", Status::InvalidArgument("--gen and --since-snapshot exclude each other"), true);
  }
  Result<FsMeta> meta = FsMeta::Load(*state);
  if (!meta.ok()) return ReportError("diff", meta.status());
  Result<Range> range = PickRange(*meta, a);
  if (!range.ok()) return ReportError("diff", range.status());

  DiffInput in;
  for (uint64_t g = range->first; g <= range->last; ++g) {
    in.uppers.push_back({g, layout::UpperDir(*state, g)});
  }
  for (uint64_t g = range->first - 1; g >= 1; --g) in.below.push_back(layout::UpperDir(*state, g));
  for (const auto& l : meta->lowerdirs) in.below.push_back(l);
  Result<std::vector<Change>> changes = ComputeChangeSet(in);
  if (!changes.ok()) return ReportError("diff", changes.status());

  if (!a.no_journal) {
    std::vector<JournalEntry> entries;
    for (uint64_t g = range->first; g <= range->last; ++g) {
      Result<JournalFileContents> c = ReadJournalFile(layout::JournalPath(*state, g));
      if (!c.ok()) continue;  // no journal for this generation: sizes only
      std::move(c->entries.begin(), c->entries.end(), std::back_inserter(entries));
    }
    AttributeWriters(*changes, entries);
  }

  if (a.json) {
    json out = {{"state", *state},
                {"from_generation", range->first},
                {"to_generation", range->last},
                {"changes", json::array()}};
    for (const auto& c : *changes) out["changes"].push_back(ToJson(c));
    std::printf("%s\n", out.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
    return 0;
  }
  size_t width = 4;
  for (const auto& c : *changes) width = std::max(width, EscapeForTerminal(c.path).size());
  width = std::min<size_t>(width, 80);
  for (const auto& c : *changes) {
    std::string size = (c.kind == ChangeKind::kDeleted || c.type != 'f') ? "-" : HumanSize(c.size);
    std::printf("%c %-*s  %10s  %s%s\n", ChangeKindMarker(c.kind), static_cast<int>(width),
                EscapeForTerminal(c.path).c_str(), size.c_str(), Who(c).c_str(),
                Notes(c).c_str());
  }
  return 0;
}

}  // namespace

void AddDiffCommand(CLI::App& root, Context& ctx) {
  auto args = std::make_shared<DiffArgs>();
  CLI::App* sub = root.add_subcommand(
      "diff", "Show what a generation changed (A/C/D like docker diff, with sizes and writers)");
  AddStateArgs(sub, args->state);
  auto* gen = sub->add_option("--gen", args->gen, "this generation (default: the live one)");
  sub->add_flag("--since-snapshot", args->since_snapshot,
                "everything since the last exported snapshot (setup generation excluded)")
      ->excludes(gen);
  sub->add_flag("--json", args->json, "print JSON");
  sub->add_flag("--no-journal", args->no_journal, "do not read the journal for writers");
  sub->callback([args, &ctx] { ctx.exit_code = RunDiff(*args); });
}

}  // namespace ctrsnap::cli
