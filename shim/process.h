// Running other programs from the wrapper: exec in place, run-and-wait with
// signal forwarding, and fully detached launches.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "common/status.h"

namespace ctrsnap::shim {

// execvp(ARGV[0], ARGV): replaces this process. Returns only on failure.
Status ExecProgram(const std::vector<std::string>& argv);

struct RunOptions {
  // Forward the signals a shell or an engine sends (TERM, INT, HUP, QUIT,
  // USR1, USR2, WINCH, CONT) to the child, as runc run forwards them to the
  // container; used for the real runtime's `run`.
  bool forward_signals = false;
  // Child's stdout to /dev/null (e.g. a `state` probe).
  bool quiet_stdout = false;
};

// Runs ARGV as a child, waits, and returns its status the way a shell does:
// the exit code, or 128+signal.
Result<int> RunAndWait(const std::vector<std::string>& argv, const RunOptions& options = {});

struct DetachOptions {
  std::string stderr_path;  // appended to; "" = /dev/null
  std::string cgroup_name;  // move into this cgroup under each hierarchy's root; "" = stay
};

// Starts ARGV fully detached from the caller: a new session (setsid), stdin
// and stdout on /dev/null, stderr on DetachOptions::stderr_path, every other
// descriptor closed (close_range), and (best effort) its own cgroup. Waits for
// ARGV's own process to exit, which for a daemonizing program means it is
// ready, and returns its status (as RunAndWait).
Result<int> RunDetached(const std::vector<std::string>& argv, const DetachOptions& options,
                        int timeout_ms);

// Moves process PID (0: the caller) into cgroup NAME directly under the root of
// every mounted cgroup hierarchy (v1 and v2), creating it. Hierarchies that
// refuse are skipped; fails only when none accepted.
Status MoveToOwnCgroup(pid_t pid, const std::string& name);

// The directory of /proc/self/exe.
std::string SelfDir();
// PROGRAM if it contains '/', else the first match on $PATH; "" when not found.
std::string FindOnPath(const std::string& program);

}  // namespace ctrsnap::shim
