// RuncArgs: runc's command line, parsed only as far as the wrapper needs it.
//
// The wrapper passes argv to the real runtime unchanged; this parser only
// finds the global options it must honour itself (--root, --log,
// --log-format, --debug, ...), the subcommand, and for the few subcommands it
// acts on (create, run, start, delete) the bundle, the container id and the
// flags that change what it does (--detach, --keep, --force).
//
// Grammar (runc 1.1, urfave/cli v1; crun accepts the same):
//   runc [GLOBAL...] COMMAND [FLAG...] [ID] [ARGS...]
//   GLOBAL: --flag value | --flag=value | --boolflag | --boolflag=true|false
// Either one or two leading dashes are accepted, as urfave/cli does.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"

namespace ctrsnap::shim {

struct RuncGlobals {
  std::string root;        // --root (runtime state dir); empty: the runtime's default
  std::string log;         // --log
  std::string log_format;  // --log-format: "text" or "json" (crun: also accepted)
  std::string log_level;   // --log-level (crun)
  std::string criu;        // --criu
  std::string rootless;    // --rootless: true|false|auto
  std::string cgroup_manager;  // --cgroup-manager (crun)
  bool debug = false;          // --debug
  bool systemd_cgroup = false; // --systemd-cgroup
  bool help = false;           // -h / --help before the command
  bool version = false;        // -v / --version before the command
};

struct RuncArgs {
  RuncGlobals globals;
  // argv[1..] as given: what the real runtime receives.
  std::vector<std::string> argv;
  // Index into argv of the subcommand; nullopt when there is none (--version).
  std::optional<size_t> command_index;
  std::string command;  // "" when none

  // Only for create, run, start, delete, state, kill, ... (first positional).
  std::string id;
  // create/run: --bundle/-b; default "." (runc resolves it against cwd).
  std::string bundle = ".";
  bool detach = false;  // run --detach/-d
  bool keep = false;    // run --keep
  bool force = false;   // delete --force/-f
  bool command_help = false;  // COMMAND --help

  // The globals exactly as given (argv[0 .. command_index)), to call the real
  // runtime again with the same --root/--log/... (e.g. `state ID`).
  std::vector<std::string> GlobalArgs() const;
  // GlobalArgs without the logging ones (--log, --log-format, --log-level,
  // --debug): for the wrapper's own queries of the runtime, whose errors
  // ("container does not exist") must not land in the engine's log, where
  // they would replace the real runtime's reason for the user.
  std::vector<std::string> QueryGlobalArgs() const;
};

// Parses ARGV (without the program name). Unknown global flags are kept and
// passed through; an unknown flag is assumed to take no value unless written
// --flag=value. Fails only when a known value flag lacks its value.
Result<RuncArgs> ParseRuncArgs(const std::vector<std::string>& argv);

// The runc subcommands (and aliases) known to exist; others pass through too.
bool IsKnownRuncCommand(const std::string& command);

}  // namespace ctrsnap::shim
