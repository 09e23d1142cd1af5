#include "packaging/install/installer.h"

namespace ctrsnap::install {
namespace {

Result<Outcome> Run(const EngineConfig& engine, const InstallRequest& request,
                    const InstallOptions& options, bool install) {
  Outcome outcome;
  ASSIGN_OR_RETURN(outcome.plan,
                   install ? engine.PlanInstall(request) : engine.PlanUninstall(request));
  if (options.dry_run || !outcome.changed()) return outcome;
  auto validate = [&]() -> Status {
    ASSIGN_OR_RETURN(Registration r, engine.Inspect(request.file));
    if (install && (!r.installed || r.runtime_path != request.runtime_path)) {
      return Status::Internal(request.file + ": runtime ctrsnap is not registered after the edit");
    }
    if (install && request.make_default && !r.is_default) {
      return Status::Internal(request.file + ": ctrsnap is not the default after the edit");
    }
    if (!install && r.installed) {
      return Status::Internal(request.file + ": runtime ctrsnap is still registered");
    }
    if (options.validate_with_engine) RETURN_IF_ERROR(engine.ValidateWithEngine(request.file));
    return Status::Ok();
  };
  std::string stamp = options.backup_stamp.empty() ? BackupStamp() : options.backup_stamp;
  ASSIGN_OR_RETURN(outcome.report, ApplyPlan(outcome.plan, stamp, validate));
  return outcome;
}

}  // namespace

Result<Outcome> Install(const EngineConfig& engine, const InstallRequest& request,
                        const InstallOptions& options) {
  if (request.runtime_path.empty() || request.runtime_path[0] != '/') {
    return Status::InvalidArgument("runtime path \"" + request.runtime_path +
                                   "\" is not absolute");
  }
  return Run(engine, request, options, true);
}

Result<Outcome> Uninstall(const EngineConfig& engine, const InstallRequest& request,
                          const InstallOptions& options) {
  return Run(engine, request, options, false);
}

}  // namespace ctrsnap::install
