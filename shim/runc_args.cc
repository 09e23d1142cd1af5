#include "shim/runc_args.h"

#include <algorithm>
#include <array>
#include <string_view>

namespace ctrsnap::shim {
namespace {

// A flag as urfave/cli sees it: "-x", "--x", "-x=v", "--x=v".
struct FlagToken {
  std::string name;  // without dashes
  std::optional<std::string> inline_value;
};

std::optional<FlagToken> SplitFlag(const std::string& arg) {
  if (arg.size() < 2 || arg[0] != '-' || arg == "--") return std::nullopt;
  std::string_view s = arg;
  s.remove_prefix(s[1] == '-' ? 2 : 1);
  if (s.empty()) return std::nullopt;
  FlagToken t;
  size_t eq = s.find('=');
  if (eq == std::string_view::npos) {
    t.name = std::string(s);
  } else {
    t.name = std::string(s.substr(0, eq));
    t.inline_value = std::string(s.substr(eq + 1));
  }
  return t;
}

bool ParseBool(const std::optional<std::string>& v) {
  return !v.has_value() || *v == "true" || *v == "1" || *v == "t" || *v == "TRUE" ||
         *v == "True";
}

template <size_t N>
bool In(const std::string& name, const std::array<std::string_view, N>& names) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// Global options of runc 1.1 and crun that take a value.
constexpr std::array<std::string_view, 7> kGlobalValueFlags = {
    "root", "log", "log-format", "log-level", "criu", "rootless", "cgroup-manager"};

// Subcommand flags that take a value, per command we act on; every other
// flag of these commands is boolean.
constexpr std::array<std::string_view, 5> kCreateValueFlags = {"bundle", "b", "console-socket",
                                                               "pid-file", "preserve-fds"};

constexpr std::array<std::string_view, 22> kKnownCommands = {
    "checkpoint", "create",  "delete", "events", "exec",    "features", "init",  "kill",
    "list",       "ps",      "pause",  "restore", "resume", "run",      "spec",  "start",
    "state",      "update",  "help",   "h",       "ls",     "version"};

Status ParseGlobal(const FlagToken& flag, const std::vector<std::string>& argv, size_t* i,
                   RuncGlobals* g) {
  std::string value;
  if (In(flag.name, kGlobalValueFlags)) {
    if (flag.inline_value) {
      value = *flag.inline_value;
    } else {
      if (*i + 1 >= argv.size()) {
        return Status::InvalidArgument("flag needs an argument: --" + flag.name);
      }
      value = argv[++*i];
    }
    if (flag.name == "root") g->root = value;
    else if (flag.name == "log") g->log = value;
    else if (flag.name == "log-format") g->log_format = value;
    else if (flag.name == "log-level") g->log_level = value;
    else if (flag.name == "criu") g->criu = value;
    else if (flag.name == "rootless") g->rootless = value;
    else if (flag.name == "cgroup-manager") g->cgroup_manager = value;
    return Status::Ok();
  }
  if (flag.name == "debug") g->debug = ParseBool(flag.inline_value);
  else if (flag.name == "systemd-cgroup") g->systemd_cgroup = ParseBool(flag.inline_value);
  else if (flag.name == "h" || flag.name == "help") g->help = true;
  else if (flag.name == "v" || flag.name == "version") g->version = true;
  // Anything else: an unknown boolean global, passed through untouched.
  return Status::Ok();
}

// Parses the flags and first positional of create/run/start/delete.
Status ParseCommandArgs(const std::vector<std::string>& argv, size_t start, RuncArgs* out) {
  const bool creates = out->command == "create" || out->command == "run";
  for (size_t i = start; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg == "--") {
      if (i + 1 < argv.size() && out->id.empty()) out->id = argv[i + 1];
      return Status::Ok();
    }
    auto flag = SplitFlag(arg);
    if (!flag) {
      // urfave/cli v1 stops at the first positional: the container id.
      out->id = arg;
      return Status::Ok();
    }
    const std::string& n = flag->name;
    if (n == "h" || n == "help") {
      out->command_help = true;
      continue;
    }
    if (creates && In(n, kCreateValueFlags)) {
      std::string value;
      if (flag->inline_value) {
        value = *flag->inline_value;
      } else {
        if (i + 1 >= argv.size()) {
          return Status::InvalidArgument(out->command + ": flag needs an argument: --" + n);
        }
        value = argv[++i];
      }
      if (n == "bundle" || n == "b") out->bundle = value;
      continue;
    }
    if (out->command == "run" && (n == "detach" || n == "d")) out->detach = ParseBool(flag->inline_value);
    if (out->command == "run" && n == "keep") out->keep = ParseBool(flag->inline_value);
    if (out->command == "delete" && (n == "force" || n == "f")) {
      out->force = ParseBool(flag->inline_value);
    }
  }
  return Status::Ok();
}

}  // namespace

bool IsKnownRuncCommand(const std::string& command) { return In(command, kKnownCommands); }

std::vector<std::string> RuncArgs::GlobalArgs() const {
  size_t n = command_index.value_or(argv.size());
  return std::vector<std::string>(argv.begin(), argv.begin() + static_cast<ptrdiff_t>(n));
}

std::vector<std::string> RuncArgs::QueryGlobalArgs() const {
  std::vector<std::string> out;
  const size_t n = command_index.value_or(argv.size());
  for (size_t i = 0; i < n; ++i) {
    auto flag = SplitFlag(argv[i]);
    const bool logging = flag && (flag->name == "log" || flag->name == "log-format" ||
                                  flag->name == "log-level" || flag->name == "debug");
    const bool takes_value = flag && !flag->inline_value && In(flag->name, kGlobalValueFlags);
    if (!logging) out.push_back(argv[i]);
    if (takes_value && i + 1 < n) {
      ++i;
      if (!logging) out.push_back(argv[i]);
    }
  }
  return out;
}

Result<RuncArgs> ParseRuncArgs(const std::vector<std::string>& argv) {
  RuncArgs out;
  out.argv = argv;
  size_t i = 0;
  for (; i < argv.size(); ++i) {
    auto flag = SplitFlag(argv[i]);
    if (!flag) break;
    RETURN_IF_ERROR(ParseGlobal(*flag, argv, &i, &out.globals));
  }
  if (i >= argv.size()) return out;
  out.command_index = i;
  out.command = argv[i];
  if (out.command == "create" || out.command == "run" || out.command == "start" ||
      out.command == "delete") {
    RETURN_IF_ERROR(ParseCommandArgs(argv, i + 1, &out));
  }
  return out;
}

}  // namespace ctrsnap::shim
