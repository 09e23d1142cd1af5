// Running a PolicyFilter over whole trees, for `ctrsnap scan` and tests:
// a directory (a container root), an OCI image layout (its layers read with
// libarchive), or a ctrsnap container's generations (overlay upper dirs;
// whiteouts skipped). Symlinks are never followed: every open is an *at()
// call with O_NOFOLLOW below an fd of the root.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/file_filter.h"
#include "common/status.h"
#include "layers/policy/policy_filter.h"

namespace ctrsnap::policy {

struct ScanFinding {
  FilterFinding finding;
  std::string fingerprint;  // sha256 of the secret value; empty for path findings
  std::string source;       // "" for directories; "layer sha256:..." or "gen 3" otherwise
};

struct ScanReport {
  std::vector<ScanFinding> findings;
  uint64_t files = 0;       // regular files looked at
  uint64_t bytes = 0;       // bytes of content scanned
  std::vector<std::string> warnings;  // unreadable entries, skipped things

  // True when a finding of kind secret or credential-path is present.
  bool FoundSecret() const;
};

// Scans the tree under ROOT; container paths are PREFIX + relative path
// ("/" for a root filesystem). Skips overlay whiteouts when UPPER is true.
Result<ScanReport> ScanDirectory(const PolicyFilter& filter, const std::string& root,
                                 bool upper = false);
// Scans every layer of every image in the OCI layout at DIR, and the image
// config's Env through FilterEnv.
Result<ScanReport> ScanOciLayout(const PolicyFilter& filter, const std::string& dir);
// Scans the upper directories of every generation of a ctrsnap state dir.
Result<ScanReport> ScanContainerState(const PolicyFilter& filter, const std::string& state_dir);

}  // namespace ctrsnap::policy
