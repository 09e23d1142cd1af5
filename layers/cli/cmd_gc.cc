// ctrsnap gc: prune the state of exited containers per the retention policy
// (config.json "retention", overridable here). Never touches the state of a
// running container (its lock is held) or one its engine still has.
#include <cstdio>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "common/config.h"
#include "layers/cli/command.h"
#include "layers/cli/commands.h"
#include "shim/retention.h"

namespace ctrsnap::cli {
namespace {

struct GcOptions {
  int64_t keep = -1;       // -1: config
  int64_t max_bytes = -1;  // -1: config
  bool dry_run = false;
  bool json = false;
};

std::string Human(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
  return buf;
}

int RunGc(const GcOptions& opts) {
  auto config = Config::LoadDefault();
  if (!config.ok()) {
    std::fprintf(stderr, "ctrsnap gc: %s\n", config.status().ToString().c_str());
    return 1;
  }
  shim::RetentionPolicy policy{config->retention.keep_exited, config->retention.max_bytes};
  if (opts.keep >= 0) policy.keep_exited = static_cast<uint64_t>(opts.keep);
  if (opts.max_bytes >= 0) policy.max_bytes = static_cast<uint64_t>(opts.max_bytes);
  auto entries = shim::ListStates(config->state_root);
  if (!entries.ok()) {
    std::fprintf(stderr, "ctrsnap gc: %s\n", entries.status().ToString().c_str());
    return 1;
  }
  auto plan = shim::PlanPrune(*entries, policy);
  int failures = 0;
  nlohmann::json rows = nlohmann::json::array();
  if (!opts.json) {
    std::printf("%-24s %-10s %-12s %10s  %s\n", "CONTAINER", "ENGINE", "STATE", "SIZE", "ACTION");
  }
  for (const auto& e : *entries) {
    bool prune = false;
    for (const auto& p : plan) prune = prune || p.id == e.id;
    std::string state = e.running ? "running" : e.exited ? (e.engine_holds ? "engine-held" : "exited")
                                                         : "not-exited";
    std::string action = "keep";
    std::string error;
    if (prune) {
      action = opts.dry_run ? "would-prune" : "pruned";
      if (!opts.dry_run) {
        Status st = shim::PruneState(e);
        if (!st.ok()) {
          action = "failed";
          error = st.ToString();
          ++failures;
        }
      }
    }
    if (opts.json) {
      rows.push_back({{"id", e.id}, {"engine", e.engine}, {"state", state}, {"bytes", e.bytes},
                      {"action", action}, {"error", error}});
    } else {
      std::printf("%-24.24s %-10s %-12s %10s  %s%s\n", e.id.c_str(), e.engine.c_str(),
                  state.c_str(), Human(e.bytes).c_str(), action.c_str(),
                  error.empty() ? "" : (": " + error).c_str());
    }
  }
  if (opts.json) std::printf("%s\n", rows.dump().c_str());
  return failures > 0 ? 1 : 0;
}

}  // namespace

void AddGcCommand(CLI::App& root, Context& ctx) {
  auto opts = std::make_shared<GcOptions>();
  CLI::App* cmd = root.add_subcommand(
      "gc", "Prune the kept state of exited containers (oldest first; never a running one)");
  cmd->add_option("--keep", opts->keep, "Keep the state of this many exited containers (default: config retention.keep_exited)");
  cmd->add_option("--max-bytes", opts->max_bytes, "Prune oldest exited states until all fit (default: config retention.max_bytes)");
  cmd->add_flag("-n,--dry-run", opts->dry_run, "Show what would be pruned");
  cmd->add_flag("--json", opts->json, "Print JSON");
  cmd->callback([opts, &ctx] { ctx.exit_code = RunGc(*opts); });
}

}  // namespace ctrsnap::cli
