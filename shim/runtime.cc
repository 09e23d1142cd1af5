#include "shim/runtime.h"

#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/file_util.h"
#include "common/log.h"
#include "common/state_layout.h"
#include "shim/container_meta.h"
#include "shim/fs_daemon.h"
#include "shim/process.h"
#include "shim/replace_file.h"
#include "shim/retention.h"
#include "shim/spec.h"
#include "shim/spec_editor.h"
#include "shim/state_dir.h"

namespace ctrsnap::shim {
namespace {

std::string RealPath(const std::string& path) {
  char buf[PATH_MAX];
  return ::realpath(path.c_str(), buf) != nullptr ? std::string(buf) : std::string();
}

std::string ResolveSibling(const std::string& configured, const char* name) {
  if (!configured.empty()) return FindOnPath(configured);
  std::string beside = SelfDir() + "/" + name;
  if (::access(beside.c_str(), X_OK) == 0) return beside;
  return FindOnPath(name);
}

// Execs the real runtime; on failure reports and returns 127-style status.
int Passthrough(const WrapperEnv& env, const RuncArgs& args) {
  Status st = ExecProgram(RuntimeArgv(env, args));
  LogError("ctrsnap-runtime: " + st.ToString());
  return 127;
}

// Runs `RUNTIME [globals] state ID` quietly: 0 when the container exists.
bool RuntimeKnows(const WrapperEnv& env, const RuncArgs& args) {
  std::vector<std::string> argv = {env.runtime};
  for (const auto& g : args.QueryGlobalArgs()) argv.push_back(g);
  argv.push_back("state");
  argv.push_back(args.id);
  auto rc = RunAndWait(argv, RunOptions{.forward_signals = false, .quiet_stdout = true});
  return rc.ok() && *rc == 0;
}

void ApplyRetention(const Config& config) {
  auto entries = ListStates(config.state_root);
  if (!entries.ok()) {
    LogWarn("retention: " + entries.status().ToString());
    return;
  }
  RetentionPolicy policy{config.retention.keep_exited, config.retention.max_bytes};
  for (const StateEntry& e : PlanPrune(*entries, policy)) {
    Status st = PruneState(e);
    if (st.ok()) {
      LogInfo("retention: pruned state of exited container " + e.id);
    } else {
      LogWarn("retention: " + st.ToString());
    }
  }
}

// After the container is gone from the real runtime: record the exit if the
// poststop hook did not, unmount and stop the daemon, apply retention.
Status FinishContainer(const WrapperEnv& env, const std::string& state_dir, const std::string& by) {
  auto meta = ContainerMeta::Load(state_dir);
  if (!ExitRecord::Load(state_dir).ok()) {
    ExitRecord exit;
    exit.exited_unix_ns = NowUnixNs();
    exit.status = "stopped";
    exit.by = by;
    RETURN_IF_ERROR(exit.Save(state_dir));
  }
  std::string mountpoint = meta.ok() ? meta->rootfs : "";
  RETURN_IF_ERROR(StopFsDaemon(state_dir, mountpoint).WithContext("stop ctrsnap-fs"));
  ApplyRetention(env.config);
  return Status::Ok();
}

struct Prepared {
  bool wrapped = false;  // false: pass through untouched (disabled, no root)
  std::string state_dir;
};

Result<Prepared> PrepareCreate(const RuncArgs& args, const WrapperEnv& env) {
  Prepared out;
  std::string bundle = RealPath(args.bundle);
  if (bundle.empty()) return out;  // let the runtime report the missing bundle
  auto spec_or = LoadSpec(bundle);
  if (!spec_or.ok()) return out;   // the runtime reports a broken spec in its own words
  nlohmann::json spec = std::move(spec_or).value();
  if (env.disabled_by_env) {
    LogInfo("ctrsnap disabled for " + args.id + " by CTRSNAP_DISABLE in the runtime's environment");
    return out;
  }
  if (auto why = DisabledBy(spec)) {
    LogInfo("ctrsnap disabled for " + args.id + " by " + *why);
    return out;
  }
  auto rootfs_or = RootPath(spec, bundle);
  if (!rootfs_or.ok()) return out;
  std::string rootfs = RealPath(*rootfs_or);
  if (rootfs.empty()) return out;  // missing root: the runtime's error to report

  if (env.hook_binary.empty()) {
    return Status::NotFound("ctrsnap-hook not found (set hook_binary in the config)");
  }
  ASSIGN_OR_RETURN(StateDir state, OpenStateDir(env.config.state_root, args.id));
  if (state.resumed && !StateLocked(state.path)) {
    // The same id with another root is another container (a plain runc user
    // reusing a name): its state is set aside for retention, not resumed.
    auto old = ContainerMeta::Load(state.path);
    if (old.ok() && !old->rootfs.empty() && old->rootfs != rootfs) {
      std::string aside = state.path + ".replaced-" + std::to_string(NowUnixNs());
      if (::rename(state.path.c_str(), aside.c_str()) != 0) {
        return Status::FromErrno(errno, "rename", state.path);
      }
      LogInfo("state of an earlier container named " + args.id + " moved to " + aside);
      ASSIGN_OR_RETURN(state, OpenStateDir(env.config.state_root, args.id));
    }
  }
  out.state_dir = state.path;

  // The engine's spec, before our edits, for the CLI (image config, env).
  RETURN_IF_ERROR(ReplaceFile(layout::OriginalSpecPath(state.path),
                                  spec.dump(2, ' ', false, nlohmann::json::error_handler_t::replace),
                                  0600));
  ContainerMeta meta;
  if (state.resumed) {
    if (auto old = ContainerMeta::Load(state.path); old.ok()) meta = std::move(old).value();
  }
  EngineGuess guess = GuessEngine(spec, bundle);
  meta.id = args.id;
  meta.bundle = bundle;
  meta.rootfs = rootfs;
  meta.engine = guess.engine;
  meta.engine_namespace = guess.ns;
  if (!guess.image.empty()) meta.image = guess.image;
  if (meta.image.empty() && guess.engine == "docker") meta.image = DockerImageRef(spec, args.id);
  if (auto linux_it = spec.find("linux"); linux_it != spec.end() && linux_it->is_object()) {
    meta.cgroups_path = linux_it->value("cgroupsPath", "");
  }
  meta.runtime = env.runtime;
  meta.runtime_root = args.globals.root;
  meta.readonly_root = RootReadonly(spec);
  if (meta.created_unix_ns == 0) meta.created_unix_ns = NowUnixNs();
  meta.starts += 1;
  meta.env = ProcessEnv(spec);
  if (auto ann = spec.find("annotations"); ann != spec.end() && ann->is_object()) {
    meta.annotations = *ann;
  }
  RETURN_IF_ERROR(meta.Save(state.path));
  // A new run of the container: the previous exit no longer describes it.
  if (::unlink(layout::ExitRecordPath(state.path).c_str()) != 0 && errno != ENOENT) {
    return Status::FromErrno(errno, "unlink", layout::ExitRecordPath(state.path));
  }

  if (StateLocked(state.path) && IsFuseType(TopMountType(rootfs))) {
    LogWarn("ctrsnap-fs for " + args.id + " is already running; reusing it");
  } else if (StateLocked(state.path)) {
    return Status(Code::kBusy, "state " + state.path + " is locked by another process");
  } else {
    if (env.fs_binary.empty()) {
      return Status::NotFound("ctrsnap-fs not found (set fs_binary in the config)");
    }
    FsLaunch launch{env.fs_binary, rootfs, state.path, rootfs, env.config.fs_writeback_cache};
    RETURN_IF_ERROR(StartFsDaemon(launch).WithContext("start ctrsnap-fs on " + rootfs));
  }
  out.wrapped = true;

  auto fail = [&](Status st) -> Status {
    Status stop = StopFsDaemon(state.path, rootfs);
    if (!stop.ok()) LogWarn("cleanup after failed create: " + stop.ToString());
    return st;
  };
  if (state.resumed) {
    // Writes of the previous run that no poststop hook sealed (daemon crash,
    // host reboot) must not be mistaken for this start's setup writes.
    auto sealed = FsSeal(state.path, "resume", /*if_not_empty=*/true);
    if (!sealed.ok()) LogWarn("seal on resume: " + sealed.status().ToString());
  }
  SpecContext ctx;
  ctx.id = args.id;
  ctx.bundle = bundle;
  ctx.state_dir = state.path;
  ctx.command = args.command;
  ctx.hook_binary = env.hook_binary;
  ctx.config = &env.config;
  if (Status st = ApplySpecEditors(DefaultSpecEditors(), spec, ctx); !st.ok()) return fail(st);
  if (Status st = SaveSpec(bundle, spec); !st.ok()) return fail(st);
  return out;
}

int HandleCreate(const RuncArgs& args, const WrapperEnv& env) {
  if (args.command_help || args.id.empty() || !ValidateContainerId(args.id).ok()) {
    return Passthrough(env, args);
  }
  auto prepared = PrepareCreate(args, env);
  if (!prepared.ok()) {
    LogError("ctrsnap-runtime: " + args.command + " " + args.id + ": " +
             prepared.status().ToString());
    return 1;
  }
  if (!prepared->wrapped) return Passthrough(env, args);
  if (args.command == "create" || args.detach) {
    // Waited for, not exec'd: when the runtime refuses the container (a bad
    // mount, no process, ...), nobody would ever `delete` it, and our daemon
    // would stay mounted over its root.
    auto rc = RunAndWait(RuntimeArgv(env, args), RunOptions{.forward_signals = true});
    if (!rc.ok()) LogError("ctrsnap-runtime: " + args.command + ": " + rc.status().ToString());
    if (!rc.ok() || (*rc != 0 && !RuntimeKnows(env, args))) {
      Status st = FinishContainer(env, prepared->state_dir, "failed " + args.command);
      if (!st.ok()) LogError("ctrsnap-runtime: " + args.command + " " + args.id + ": " + st.ToString());
    }
    return rc.ok() ? *rc : 1;
  }
  // Foreground run: the runtime deletes the container when its process exits
  // (unless --keep); the daemon must go with it.
  auto rc = RunAndWait(RuntimeArgv(env, args), RunOptions{.forward_signals = true});
  if (!rc.ok()) {
    LogError("ctrsnap-runtime: run: " + rc.status().ToString());
    (void)FinishContainer(env, prepared->state_dir, "run");
    return 1;
  }
  if (!args.keep || !RuntimeKnows(env, args)) {
    Status st = FinishContainer(env, prepared->state_dir, "run");
    if (!st.ok()) LogError("ctrsnap-runtime: run " + args.id + ": " + st.ToString());
  }
  return *rc;
}

int HandleStart(const RuncArgs& args, const WrapperEnv& env) {
  if (!args.command_help && !args.id.empty()) {
    auto state = FindStateDir(env.config.state_root, args.id);
    if (state.ok() && StateLocked(*state)) {
      auto sealed = FsSeal(*state, "setup", /*if_not_empty=*/false);
      if (!sealed.ok()) {
        LogWarn("ctrsnap-runtime: start " + args.id + ": setup generation not sealed: " +
                sealed.status().ToString());
      }
    }
  }
  return Passthrough(env, args);
}

int HandleDelete(const RuncArgs& args, const WrapperEnv& env) {
  if (args.command_help || args.id.empty()) return Passthrough(env, args);
  auto state = FindStateDir(env.config.state_root, args.id);
  if (!state.ok()) return Passthrough(env, args);
  // Finished already (engines delete twice: Docker's cleanup after the
  // shim's): no daemon, no mount, the exit recorded. Nothing of ours to do.
  if (!StateLocked(*state) && ExitRecord::Load(*state).ok()) {
    auto meta = ContainerMeta::Load(*state);
    if (meta.ok() && !IsFuseType(TopMountType(meta->rootfs))) return Passthrough(env, args);
  }
  auto rc = RunAndWait(RuntimeArgv(env, args));
  if (!rc.ok()) {
    LogError("ctrsnap-runtime: delete: " + rc.status().ToString());
    return 1;
  }
  // A failed delete of a container the runtime still has (running, no
  // --force) changes nothing; one the runtime never had (failed create)
  // still leaves our mount to clean up.
  if (*rc != 0 && RuntimeKnows(env, args)) return *rc;
  Status st = FinishContainer(env, *state, "delete");
  if (!st.ok()) {
    LogError("ctrsnap-runtime: delete " + args.id + ": " + st.ToString());
    return *rc != 0 ? *rc : 1;
  }
  return *rc;
}

}  // namespace

std::vector<std::string> RuntimeArgv(const WrapperEnv& env, const RuncArgs& args) {
  std::vector<std::string> argv = {env.runtime};
  argv.insert(argv.end(), args.argv.begin(), args.argv.end());
  return argv;
}

Result<WrapperEnv> ResolveWrapperEnv(const Config& config) {
  WrapperEnv env;
  env.config = config;
  env.runtime = FindOnPath(config.runtime);
  if (env.runtime.empty()) {
    return Status::NotFound("real runtime '" + config.runtime + "' not found (config \"runtime\")");
  }
  std::string self = RealPath("/proc/self/exe");
  if (!self.empty() && RealPath(env.runtime) == self) {
    return Status::InvalidArgument("config \"runtime\" (" + env.runtime +
                                   ") is ctrsnap-runtime itself; name the real runtime");
  }
  env.fs_binary = ResolveSibling(config.fs_binary, "ctrsnap-fs");
  env.hook_binary = RealPath(ResolveSibling(config.hook_binary, "ctrsnap-hook"));
  const char* disable = std::getenv("CTRSNAP_DISABLE");  // NOLINT(concurrency-mt-unsafe)
  env.disabled_by_env = disable != nullptr && Truthy(disable);
  return env;
}

int RunWrapper(const RuncArgs& args, const WrapperEnv& env) {
  if (args.command == "create" || args.command == "run") return HandleCreate(args, env);
  if (args.command == "start") return HandleStart(args, env);
  if (args.command == "delete") return HandleDelete(args, env);
  return Passthrough(env, args);
}

}  // namespace ctrsnap::shim
