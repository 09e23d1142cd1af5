// Carrying out a Plan: a timestamped backup of every file that changes,
// atomic writes (same mode as before), a validation callback, and a rollback
// of every change when the validation fails.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "common/status.h"
#include "packaging/install/engine_config.h"

namespace ctrsnap::install {

struct ApplyReport {
  std::vector<std::string> written;
  std::vector<std::string> removed;
  std::vector<std::string> backups;
};

// BACKUP_STAMP ("20260101T000000Z") names the backups: PATH.ctrsnap-backup-STAMP
// (".N" appended when that name exists). VALIDATE runs after all writes.
Result<ApplyReport> ApplyPlan(const Plan& plan, const std::string& backup_stamp,
                              const std::function<Status()>& validate);

// The current UTC time as 20260101T000000Z.
std::string BackupStamp();

}  // namespace ctrsnap::install
