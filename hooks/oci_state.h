// The OCI state a runtime writes to a hook's standard input:
//   {"ociVersion":"1.0.2","id":"...","status":"stopped","pid":N,"bundle":"/...",
//    "annotations":{...}}
// Every field is optional to this parser (runtimes differ; poststop of a
// container that never started may have no pid).
#pragma once

#include <string>

#include "common/status.h"

namespace ctrsnap::hooks {

struct OciState {
  std::string oci_version;
  std::string id;
  std::string status;
  int pid = 0;
  std::string bundle;
};

// Empty TEXT gives an empty state (a hook run by hand); malformed JSON is an error.
Result<OciState> ParseOciState(std::string_view text);

}  // namespace ctrsnap::hooks
