// Install and uninstall end to end: plan, back up, write, validate (parse the
// result back and, when asked, let the engine's own binary check it), roll
// back on failure. What `ctrsnap install`/`uninstall` call.
#pragma once

#include <string>
#include <vector>

#include "common/status.h"
#include "packaging/install/apply_plan.h"
#include "packaging/install/engine_config.h"

namespace ctrsnap::install {

struct InstallOptions {
  bool dry_run = false;              // plan only; Outcome::plan says what would change
  bool validate_with_engine = true;  // also run e.g. `containerd config dump`
  std::string backup_stamp;          // empty: BackupStamp()
};

struct Outcome {
  Plan plan;           // empty changes: already installed / not installed
  ApplyReport report;  // what was written (empty on dry runs)
  bool changed() const { return !plan.changes.empty(); }
};

Result<Outcome> Install(const EngineConfig& engine, const InstallRequest& request,
                        const InstallOptions& options);
Result<Outcome> Uninstall(const EngineConfig& engine, const InstallRequest& request,
                          const InstallOptions& options);

}  // namespace ctrsnap::install
