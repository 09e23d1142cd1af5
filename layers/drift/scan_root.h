// ScanRoot: the inventory of a root filesystem. Called by the snapshot
// writer (with the merged view of a container) and by `ctrsnap drift`.
#pragma once

#include <string>
#include <string_view>

#include "common/status.h"
#include "layers/drift/inventory.h"

namespace ctrsnap::drift {

struct ScanOptions {
  std::string source;       // recorded in Inventory::source
  bool scan_etc = true;     // hash files under /etc
  int max_depth = 10;       // directory depth searched for environments
  size_t max_dirs = 200000; // directories visited at most (a note when hit)
};

// Scans the root filesystem open at ROOTFD (an O_DIRECTORY or O_PATH fd).
// Never follows the container's symlinks on the host. Only an unusable
// ROOTFD is an error; unreadable or malformed databases become notes.
Result<Inventory> ScanRoot(int rootfd, const ScanOptions& options = {});
// Opens PATH and scans it.
Result<Inventory> ScanRootPath(const std::string& path, const ScanOptions& options = {});

// Adds the drift-relevant settings of an OCI image config (the JSON blob:
// {"config":{"Env":[...],"Entrypoint":[...],"Cmd":[...],"WorkingDir":..,"User":..}}).
// Values of secret-looking variables are stored only as a digest.
Status AddImageConfig(std::string_view config_json, Inventory& inv);
// Whether an environment variable name looks like it holds a credential.
bool IsSecretName(std::string_view name);

}  // namespace ctrsnap::drift
