// ctrsnap install|uninstall ENGINE: registers ctrsnap-runtime with docker,
// containerd, podman or CRI-O (packaging/install/installer.h does the work).
#include <unistd.h>

#include <cstdio>
#include <string>

#include "layers/cli/commands.h"
#include "packaging/install/installer.h"
#include "packaging/install/service.h"

namespace ctrsnap::cli {
namespace {

struct InstallArgs {
  std::string engine;
  std::string file;
  std::string runtime_path;
  std::string root;
  bool make_default = false;
  bool restart = false;
  bool dry_run = false;
};

void PrintPlan(const install::Plan& plan) {
  for (const install::FileChange& c : plan.changes) {
    if (c.content) {
      std::printf("--- would write %s:\n%s", c.path.c_str(), c.content->c_str());
      if (!c.content->empty() && c.content->back() != '\n') std::printf("\n");
      std::printf("---\n");
    } else {
      std::printf("would remove %s\n", c.path.c_str());
    }
  }
}

int Run(const InstallArgs& args, bool installing) {
  auto engine_kind = install::ParseEngine(args.engine);
  if (!engine_kind.ok()) {
    std::fprintf(stderr, "ctrsnap: %s\n", engine_kind.status().message().c_str());
    return 2;
  }
  auto engine = install::MakeEngineConfig(*engine_kind, args.root);
  const std::string name(install::EngineName(*engine_kind));
  install::InstallRequest req;
  req.file = args.file.empty() ? args.root + engine->DefaultFile() : args.file;
  req.make_default = args.make_default;
  req.runtime_path = args.runtime_path.empty() ? install::SelfDir() + "/ctrsnap-runtime"
                                               : args.runtime_path;
  const std::string runtime_on_disk = args.root + req.runtime_path;
  if (installing && !args.dry_run && ::access(runtime_on_disk.c_str(), X_OK) != 0) {
    std::fprintf(stderr,
                 "ctrsnap: %s is not an executable file; install ctrsnap-runtime there or pass "
                 "--runtime-path\n",
                 runtime_on_disk.c_str());
    return 1;
  }
  install::InstallOptions opt;
  opt.dry_run = args.dry_run;
  auto outcome = installing ? install::Install(*engine, req, opt)
                            : install::Uninstall(*engine, req, opt);
  if (!outcome.ok()) {
    std::fprintf(stderr, "ctrsnap %s %s: %s\n", installing ? "install" : "uninstall",
                 name.c_str(), outcome.status().ToString().c_str());
    return 1;
  }
  for (const std::string& note : outcome->plan.notes) std::printf("note: %s\n", note.c_str());
  if (!outcome->changed()) {
    std::printf(installing ? "ctrsnap is already registered with %s (%s): nothing changed\n"
                           : "ctrsnap is not registered with %s (%s): nothing changed\n",
                name.c_str(), req.file.c_str());
    return 0;
  }
  if (args.dry_run) {
    PrintPlan(outcome->plan);
    return 0;
  }
  for (const std::string& f : outcome->report.written) std::printf("wrote %s\n", f.c_str());
  for (const std::string& f : outcome->report.removed) std::printf("removed %s\n", f.c_str());
  for (const std::string& f : outcome->report.backups) std::printf("backup %s\n", f.c_str());
  if (installing) {
    std::printf("registered runtime \"ctrsnap\" (%s) with %s%s\n", req.runtime_path.c_str(),
                name.c_str(), args.make_default ? " as the default runtime" : "");
  } else {
    std::printf("removed runtime \"ctrsnap\" from %s\n", name.c_str());
  }
  const std::string unit = engine->Service();
  if (unit.empty()) {
    std::printf("no service to restart: the next %s command reads the new configuration\n",
                name.c_str());
    return 0;
  }
  if (!args.root.empty()) {
    std::printf("restart %s on the system at %s to apply it\n", name.c_str(), args.root.c_str());
    return 0;
  }
  if (!args.restart) {
    std::printf("restart %s to apply it: systemctl restart %s\n", name.c_str(), unit.c_str());
    return 0;
  }
  Status st = install::RestartService(unit);
  if (!st.ok()) {
    std::fprintf(stderr, "ctrsnap: not restarted: %s\n", st.message().c_str());
    return 1;
  }
  std::printf("restarted %s\n", unit.c_str());
  return 0;
}

void AddOne(CLI::App& root, Context& ctx, bool installing) {
  auto args = std::make_shared<InstallArgs>();
  CLI::App* cmd = root.add_subcommand(
      installing ? "install" : "uninstall",
      installing ? "Register ctrsnap-runtime with a container engine's configuration"
                 : "Remove ctrsnap-runtime from a container engine's configuration");
  cmd->add_option("engine", args->engine, "docker, containerd, podman or crio")->required();
  cmd->add_option("--file", args->file,
                  "configuration file to edit (default: /etc/docker/daemon.json, "
                  "/etc/containerd/config.toml, /etc/containers/containers.conf.d/"
                  "50-ctrsnap.conf, /etc/crio/crio.conf.d/99-ctrsnap.conf)");
  if (installing) {
    cmd->add_flag("--default", args->make_default, "also make ctrsnap the default runtime");
    cmd->add_option("--runtime-path", args->runtime_path,
                    "ctrsnap-runtime to register (default: beside this ctrsnap binary)");
  }
  cmd->add_option("--root", args->root,
                  "edit the configuration of a system mounted at this directory (a Kubernetes "
                  "node's / at /host); paths written into it stay as that system sees them");
  cmd->add_flag("--restart", args->restart, "restart the engine's service with systemctl");
  cmd->add_flag("--dry-run", args->dry_run, "print the new files instead of writing them");
  cmd->callback([args, &ctx, installing] { ctx.exit_code = Run(*args, installing); });
}

}  // namespace

void AddInstallCommands(CLI::App& root, Context& ctx) {
  AddOne(root, ctx, true);
  AddOne(root, ctx, false);
}

}  // namespace ctrsnap::cli
