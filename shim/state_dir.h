// A container's state directory under the state root: STATE = ROOT/<id>.
#pragma once

#include <string>

#include "common/status.h"

namespace ctrsnap::shim {

// Container ids become one path component: runc's rule [A-Za-z0-9_+.-]+,
// not "." or "..", at most 1024 bytes.
Status ValidateContainerId(const std::string& id);

struct StateDir {
  std::string path;
  bool resumed = false;  // it existed already (docker restart/start): never recreated
};

// Creates ROOT (0711) and ROOT/ID (0700), or finds ROOT/ID from an earlier
// create of the same container. Refuses a symlink or non-directory at ROOT/ID.
Result<StateDir> OpenStateDir(const std::string& root, const std::string& id);

// ROOT/ID when it is an existing directory (no creation), else NotFound.
Result<std::string> FindStateDir(const std::string& root, const std::string& id);

}  // namespace ctrsnap::shim
