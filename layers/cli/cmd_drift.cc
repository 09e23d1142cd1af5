// ctrsnap drift A B: what software and configuration changed between two
// snapshots, a snapshot and a live container, or any two root filesystems.
#include <algorithm>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "common/env.h"
#include "common/fs_meta.h"
#include "layers/lib/container_state.h"
#include "layers/lib/snapshot_record.h"
#include "layers/cli/commands.h"
#include "layers/drift/diff.h"
#include "layers/drift/drift_source.h"

namespace ctrsnap::cli {
namespace {

struct DriftArgs {
  std::string a, b;
  bool json = false;
  bool no_etc = false;
  std::vector<std::string> fail_on;
  std::vector<std::string> only;  // ecosystems to report; empty: all
};

constexpr int kExitFound = 1;
constexpr int kExitError = 2;

std::string SnapshotSpec(const std::string& state, const layers::SnapshotRecord& r) {
  return "oci:" + layers::SnapshotStoreRoot(state) + ":" + r.manifest_digest;
}

// Snapshot names `ctrsnap snapshot` gives, turned into what drift::ParseSourceSpec reads:
//   ID@N, ID@latest   snapshot N (or the newest) of container ID (an id prefix works)
//   ID@base           the container's base: its lower dir
//   TAG               a tag recorded by a snapshot of any container under the state root
// Anything else is returned unchanged.
Result<std::string> ResolveSnapshotName(const std::string& arg, const std::string& root) {
  auto at = arg.rfind('@');
  if (at != std::string::npos && at > 0 && arg.find('/') == std::string::npos &&
      arg.compare(at + 1, 7, "sha256:") != 0) {
    std::string id = arg.substr(0, at), which = arg.substr(at + 1);
    auto state = layers::ResolveStateDir(root, id);
    if (state.ok()) {
      if (which == "base") {
        ASSIGN_OR_RETURN(FsMeta meta, FsMeta::Load(*state));
        if (meta.lowerdirs.size() != 1) {
          return Status::Unsupported(arg + ": the base has " + std::to_string(meta.lowerdirs.size()) +
                                     " lower dirs; name the base image's layout instead");
        }
        return "dir:" + meta.lowerdirs[0];
      }
      ASSIGN_OR_RETURN(auto records, layers::LoadSnapshotRecords(*state));
      if (records.empty()) return Status::NotFound(arg + ": container " + id + " has no snapshot yet");
      if (which == "latest") return SnapshotSpec(*state, records.back());
      for (const auto& r : records) {
        if (std::to_string(r.sequence) == which) return SnapshotSpec(*state, r);
      }
      return Status::NotFound(arg + ": no snapshot " + which + " (it has 1-" +
                              std::to_string(records.back().sequence) + ")");
    }
  }
  if (arg.find(':') != std::string::npos && !arg.starts_with("oci:") && !arg.starts_with("dir:")) {
    for (const auto& state : layers::ListStateDirs(root)) {
      auto records = layers::LoadSnapshotRecords(state);
      if (!records.ok()) continue;
      for (auto it = records->rbegin(); it != records->rend(); ++it) {
        if (it->tag == arg) return SnapshotSpec(state, *it);
      }
    }
  }
  return arg;
}

int RunDrift(const DriftArgs& args) {
  std::vector<drift::FailRule> rules;
  for (const auto& spec : args.fail_on) {
    auto r = drift::ParseFailRule(spec);
    if (!r.ok()) {
      std::fprintf(stderr, "ctrsnap drift: --fail-on: %s\n", r.status().ToString().c_str());
      return kExitError;
    }
    rules.push_back(std::move(*r));
  }
  drift::SourceOptions options;
  options.scan_etc = !args.no_etc;
  options.tmp_dir = GetEnvOr("TMPDIR", "/var/tmp");
  drift::Inventory inv[2];
  const std::string* names[2] = {&args.a, &args.b};
  for (int k = 0; k < 2; ++k) {
    auto name = ResolveSnapshotName(*names[k], StateRoot());
    if (!name.ok()) {
      std::fprintf(stderr, "ctrsnap drift: %s\n", name.status().ToString().c_str());
      return kExitError;
    }
    auto spec = drift::ParseSourceSpec(*name, StateRoot());
    if (!spec.ok()) {
      std::fprintf(stderr, "ctrsnap drift: %s\n", spec.status().ToString().c_str());
      return kExitError;
    }
    auto r = drift::InventoryOf(*spec, options);
    if (!r.ok()) {
      std::fprintf(stderr, "ctrsnap drift: %s: %s\n", names[k]->c_str(),
                   r.status().ToString().c_str());
      return kExitError;
    }
    inv[k] = std::move(*r);
  }
  std::vector<drift::Change> changes = drift::Diff(inv[0], inv[1]);
  if (!args.only.empty()) {
    std::erase_if(changes, [&](const drift::Change& c) {
      return std::find(args.only.begin(), args.only.end(), c.ecosystem) == args.only.end();
    });
  }
  auto failed = drift::Matching(changes, rules);
  std::string out = args.json ? drift::FormatJson(changes, inv[0], inv[1], failed.size())
                              : drift::FormatTable(changes, inv[0], inv[1]);
  std::fwrite(out.data(), 1, out.size(), stdout);
  if (!failed.empty()) {
    if (!args.json) {
      std::fprintf(stderr, "ctrsnap drift: %zu change(s) match --fail-on\n", failed.size());
    }
    return kExitFound;
  }
  return 0;
}

}  // namespace

void AddDriftCommand(CLI::App& root, Context& ctx) {
  auto args = std::make_shared<DriftArgs>();
  CLI::App* cmd = root.add_subcommand(
      "drift",
      "Show which software changed from A to B (packages of every ecosystem, CUDA libraries, "
      "/etc, image config). A and B: a snapshot (ID@N, ID@latest, ID@base, or its tag), an "
      "OCI layout (DIR, DIR:REF, oci:DIR:REF), a root directory (dir:PATH), or a container id "
      "under $CTRSNAP_ROOT (its live view)");
  cmd->add_option("A", args->a, "the old side")->required();
  cmd->add_option("B", args->b, "the new side")->required();
  cmd->add_flag("--json", args->json, "print JSON instead of a table");
  cmd->add_flag("--no-etc", args->no_etc, "do not compare files under /etc");
  cmd->add_option("--only", args->only,
                  "report only these ecosystems: deb, apk, rpm, python, conda, npm, cuda, etc, "
                  "config")
      ->delimiter(',');
  cmd->add_option("--fail-on", args->fail_on,
                  "exit 1 when a change of these kinds exists: added, removed, upgraded, "
                  "downgraded, changed, any; optionally per ecosystem (python:downgraded)")
      ->delimiter(',');
  cmd->callback([args, &ctx] { ctx.exit_code = RunDrift(*args); });
}

}  // namespace ctrsnap::cli
