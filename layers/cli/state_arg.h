// How the state-directory commands (log, diff, seal, status) find a
// container's state: `--state DIR`, or a positional CONTAINER id (or unique
// id prefix) resolved under the runtime's state root ($CTRSNAP_ROOT, default
// /var/lib/ctrsnap): $CTRSNAP_ROOT/<id>.
#pragma once

#include <string>

#include <CLI/CLI.hpp>

#include "common/status.h"

namespace ctrsnap::cli {

struct StateArgs {
  std::string state;      // --state DIR
  std::string container;  // positional CONTAINER
};

// Adds --state DIR and the optional positional CONTAINER to SUB.
void AddStateArgs(CLI::App* sub, StateArgs& args);

// The state directory ARGS name. InvalidArgument when both or neither are
// given, or the id is not a plain name; NotFound when no container matches;
// InvalidArgument when a prefix matches several.
Result<std::string> ResolveStateDir(const StateArgs& args);

// Same, with ROOT instead of $CTRSNAP_ROOT (for tests).
Result<std::string> ResolveStateDirIn(const std::string& root, const StateArgs& args);

// Prints "ctrsnap CMD: MESSAGE" to stderr and returns the exit code for ST:
// 2 for usage errors (InvalidArgument from argument resolution), else 1.
int ReportError(const char* cmd, const Status& st, bool usage = false);

// Replaces bytes a terminal could interpret (control characters, DEL,
// invalid UTF-8 is left as is but C0/C1 controls become \xNN) so that names
// chosen by a container cannot inject escape sequences.
std::string EscapeForTerminal(std::string_view s);

// "1.2 KiB", "17 B", "3.0 GiB".
std::string HumanSize(uint64_t bytes);
// "2026-11-27T00:58:37.123Z" (UTC, milliseconds).
std::string FormatTimeNs(int64_t unix_ns);

}  // namespace ctrsnap::cli
