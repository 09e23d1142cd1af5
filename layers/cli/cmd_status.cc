// ctrsnap status: generations, sizes and journal state of a container's
// filesystem; from the daemon's control socket, or read from the state
// directory when the daemon is not running.
#include <cstdio>
#include <memory>

#include <nlohmann/json.hpp>

#include "common/control_client.h"
#include "common/fs_meta.h"
#include "common/state_layout.h"
#include "fusefs/journal/change_set.h"
#include "fusefs/journal/journal_format.h"
#include "layers/cli/commands.h"
#include "layers/cli/state_arg.h"

namespace ctrsnap::cli {
namespace {

using nlohmann::json;

struct StatusArgs {
  StateArgs state;
  bool json = false;
  int timeout_s = 10;
};

// The daemon's reply shape, built from the state directory alone.
Result<json> OfflineStatus(const std::string& state) {
  ASSIGN_OR_RETURN(FsMeta meta, FsMeta::Load(state));
  json out = {{"live", meta.live().id}, {"generations", json::array()}};
  for (const auto& g : meta.generations) {
    json e = {{"id", g.id}, {"label", g.label}, {"sealed", g.sealed},
              {"created_unix_ns", g.created_unix_ns}};
    if (!g.exported_in.empty()) e["exported_in"] = g.exported_in;
    Result<UpperUsage> u = MeasureUpper(layout::UpperDir(state, g.id));
    if (u.ok()) {
      e["bytes"] = u->bytes;
      e["files"] = u->files;
    } else {
      e["error"] = u.status().ToString();
    }
    out["generations"].push_back(std::move(e));
  }
  Result<std::vector<uint64_t>> gens = ListJournalGenerations(state);
  if (gens.ok()) out["journal"] = {{"files", gens->size()}};
  return out;
}

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return "-";
  if (it->is_string()) return EscapeForTerminal(it->get<std::string>());
  return it->dump();
}

void PrintHuman(const std::string& state, const json& st, const std::string& daemon) {
  std::printf("state:   %s\n", EscapeForTerminal(state).c_str());
  std::printf("daemon:  %s\n", daemon.c_str());
  std::printf("live:    generation %s\n", Str(st, "live").c_str());
  std::printf("\n%-5s %-20s %-8s %12s %10s\n", "GEN", "LABEL", "STATE", "SIZE", "FILES");
  if (auto g = st.find("generations"); g != st.end() && g->is_array()) {
    for (const auto& e : *g) {
      if (!e.is_object()) continue;
      bool sealed = e.value("sealed", false);
      std::string size = "-";
      if (auto b = e.find("bytes"); b != e.end() && b->is_number_unsigned()) {
        size = HumanSize(b->get<uint64_t>());
      }
      std::string label = Str(e, "label");
      if (label.empty()) label = "-";
      std::string state_word = sealed ? (e.contains("exported_in") ? "exported" : "sealed") : "live";
      std::printf("%-5s %-20s %-8s %12s %10s\n", Str(e, "id").c_str(), label.c_str(),
                  state_word.c_str(), size.c_str(), Str(e, "files").c_str());
    }
  }
  if (auto j = st.find("journal"); j != st.end() && j->is_object() && !j->empty()) {
    std::printf("\njournal:");
    for (const auto& [k, v] : j->items()) {
      std::printf(" %s=%s", EscapeForTerminal(k).c_str(),
                  v.is_string() ? EscapeForTerminal(v.get<std::string>()).c_str()
                                : v.dump().c_str());
    }
    std::printf("\n");
  }
}

int RunStatus(const StatusArgs& a) {
  Result<std::string> state = ResolveStateDir(a.state);
  if (!state.ok()) {
    return ReportError("status", state.status(), state.status().code() == Code::kInvalidArgument);
  }
  Result<json> reply = ControlCall(*state, {{"op", "status"}}, a.timeout_s * 1000);
  std::string daemon = "running";
  if (!reply.ok()) {
    daemon = "not running (" + reply.status().ToString() + ")";
    reply = OfflineStatus(*state);
    if (!reply.ok()) return ReportError("status", reply.status());
  }
  try {
    json out = std::move(reply).value();
    out.erase("v");
    out.erase("ok");
    if (a.json) {
      out["daemon"] = daemon == "running" ? "running" : "not running";
      out["state"] = *state;
      std::printf("%s\n", out.dump(-1, ' ', false, json::error_handler_t::replace).c_str());
    } else {
      PrintHuman(*state, out, daemon);
    }
  } catch (const json::exception& e) {
    return ReportError("status", Status::Corrupt(std::string("unexpected status reply: ") + e.what()));
  }
  return 0;
}

}  // namespace

void AddStatusCommand(CLI::App& root, Context& ctx) {
  auto args = std::make_shared<StatusArgs>();
  CLI::App* sub = root.add_subcommand(
      "status", "Show a container filesystem's generations, sizes and journal");
  AddStateArgs(sub, args->state);
  sub->add_flag("--json", args->json, "print JSON");
  sub->add_option("--timeout", args->timeout_s, "seconds to wait for the daemon")
      ->check(CLI::Range(1, 3600));
  sub->callback([args, &ctx] { ctx.exit_code = RunStatus(*args); });
}

}  // namespace ctrsnap::cli
